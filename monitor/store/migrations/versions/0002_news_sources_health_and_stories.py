"""news sources, health and stories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import monitor.store.schema


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_polls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('started_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('items_seen', sa.Integer(), nullable=False),
    sa.Column('items_new', sa.Integer(), nullable=False),
    sa.Column('items_dropped', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_polls'))
    )
    with op.batch_alter_table('source_polls', schema=None) as batch_op:
        batch_op.create_index('ix_source_polls_source_started', ['source', 'started_at'], unique=False)

    op.create_table('sources',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('last_modified', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('consecutive_empty', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_poll_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sources'))
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guid', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('canonical_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('undated', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('story_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('novelty', sa.Float(), nullable=True))
        batch_op.create_index('ix_articles_canonical_url', ['canonical_url'], unique=False)
        batch_op.create_index('ix_articles_guid', ['guid'], unique=False)
        batch_op.create_index('ix_articles_story_key', ['story_key'], unique=False)
    # Articles stored before stories existed each start a story of their own.
    op.execute("UPDATE articles SET story_key = article_key, novelty = 100 WHERE story_key IS NULL")



def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_story_key')
        batch_op.drop_index('ix_articles_guid')
        batch_op.drop_index('ix_articles_canonical_url')
        batch_op.drop_column('novelty')
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('story_key')
        batch_op.drop_column('undated')
        batch_op.drop_column('canonical_url')
        batch_op.drop_column('guid')

    op.drop_table('sources')
    with op.batch_alter_table('source_polls', schema=None) as batch_op:
        batch_op.drop_index('ix_source_polls_source_started')

    op.drop_table('source_polls')
