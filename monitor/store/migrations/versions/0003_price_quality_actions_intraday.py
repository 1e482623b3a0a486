"""price quality flags, corporate actions, intraday fallback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import monitor.store.schema


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('price_actions',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('session', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('first_seen', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.UniqueConstraint('symbol', 'session', 'kind', 'source', name=op.f('uq_price_actions_symbol_session_kind_source'))
    )
    with op.batch_alter_table('price_bars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flags', sa.String(length=64), server_default='', nullable=False))
    with op.batch_alter_table('price_coverage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('served_interval', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('price_coverage', schema=None) as batch_op:
        batch_op.drop_column('served_interval')
    with op.batch_alter_table('price_bars', schema=None) as batch_op:
        batch_op.drop_column('flags')
    op.drop_table('price_actions')
