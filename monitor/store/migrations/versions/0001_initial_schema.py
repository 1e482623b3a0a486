"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import monitor.store.schema


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('articles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('source_id', sa.String(length=1000), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('published_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('date_only', sa.Boolean(), nullable=False),
    sa.Column('zone_given', sa.Boolean(), nullable=False),
    sa.Column('ingested_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('article_key', name=op.f('uq_articles_article_key')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_articles_source_source_id'))
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index('ix_articles_published_at', ['published_at'], unique=False)

    op.create_table('event_returns',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('window_start', sa.Integer(), nullable=False),
    sa.Column('window_end', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=20), nullable=False),
    sa.Column('benchmark', sa.String(length=32), nullable=True),
    sa.Column('raw_return', sa.Float(), nullable=True),
    sa.Column('benchmark_return', sa.Float(), nullable=True),
    sa.Column('abnormal_return', sa.Float(), nullable=True),
    sa.Column('car', sa.Float(), nullable=True),
    sa.Column('t_stat', sa.Float(), nullable=True),
    sa.Column('n_obs', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('alpha', sa.Float(), nullable=True),
    sa.Column('beta', sa.Float(), nullable=True),
    sa.Column('sigma', sa.Float(), nullable=True),
    sa.Column('estimation_obs', sa.Integer(), nullable=False),
    sa.Column('computed_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_returns')),
    sa.UniqueConstraint('article_key', 'symbol', 'window_start', 'window_end', 'model', name=op.f('uq_event_returns_article_key_symbol_window_start_window_end_model'))
    )
    op.create_table('instruments',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('asset_class', sa.String(length=16), nullable=False),
    sa.Column('calendar', sa.String(length=16), nullable=False),
    sa.Column('benchmark', sa.String(length=32), nullable=True),
    sa.Column('exchange', sa.String(length=64), nullable=True),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('codes', sa.JSON(), nullable=False),
    sa.Column('taggable', sa.Boolean(), nullable=False),
    sa.Column('updated_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('symbol', name=op.f('pk_instruments'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('started_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job', 'started_at'], unique=False)

    op.create_table('price_bars',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('ts', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('session', sa.Date(), nullable=True),
    sa.Column('open', sa.Float(), nullable=True),
    sa.Column('high', sa.Float(), nullable=True),
    sa.Column('low', sa.Float(), nullable=True),
    sa.Column('close', sa.Float(), nullable=True),
    sa.Column('volume', sa.Float(), nullable=True),
    sa.Column('adjusted', sa.Boolean(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('fetched_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.UniqueConstraint('symbol', 'interval', 'adjusted', 'ts', name=op.f('uq_price_bars_symbol_interval_adjusted_ts'))
    )
    op.create_table('price_coverage',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('fetched_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_coverage'))
    )
    with op.batch_alter_table('price_coverage', schema=None) as batch_op:
        batch_op.create_index('ix_price_coverage_symbol', ['symbol', 'interval', 'source'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('published_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('session', sa.Date(), nullable=False),
    sa.Column('timing', sa.String(length=20), nullable=False),
    sa.Column('calendar', sa.String(length=16), nullable=False),
    sa.Column('date_only', sa.Boolean(), nullable=False),
    sa.Column('relevance', sa.Float(), nullable=False),
    sa.Column('created_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_key'], ['articles.article_key'], name=op.f('fk_events_article_key_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('article_key', 'symbol', name=op.f('uq_events_article_key_symbol'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_symbol_session', ['symbol', 'session'], unique=False)

    op.create_table('mentions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('relevance', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['article_key'], ['articles.article_key'], name=op.f('fk_mentions_article_key_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentions')),
    sa.UniqueConstraint('article_key', 'symbol', 'start', name=op.f('uq_mentions_article_key_symbol_start'))
    )
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.create_index('ix_mentions_symbol', ['symbol'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.drop_index('ix_mentions_symbol')

    op.drop_table('mentions')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_symbol_session')

    op.drop_table('events')
    with op.batch_alter_table('price_coverage', schema=None) as batch_op:
        batch_op.drop_index('ix_price_coverage_symbol')

    op.drop_table('price_coverage')
    op.drop_table('price_bars')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
    op.drop_table('instruments')
    op.drop_table('event_returns')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_published_at')

    op.drop_table('articles')
