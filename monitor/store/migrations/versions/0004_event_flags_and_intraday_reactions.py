"""event flags (confounded, abnormal volume) and intraday reactions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import monitor.store.schema


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_reactions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('horizon', sa.String(length=8), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('raw_return', sa.Float(), nullable=True),
    sa.Column('benchmark_return', sa.Float(), nullable=True),
    sa.Column('abnormal_return', sa.Float(), nullable=True),
    sa.Column('start_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('computed_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_key'], ['articles.article_key'], name=op.f('fk_event_reactions_article_key_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_reactions')),
    sa.UniqueConstraint('article_key', 'symbol', 'horizon', name=op.f('uq_event_reactions_article_key_symbol_horizon'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confounded', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('abnormal_volume_log', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('abnormal_volume_z', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('abnormal_volume_z')
        batch_op.drop_column('abnormal_volume_log')
        batch_op.drop_column('confounded')
    op.drop_table('event_reactions')
