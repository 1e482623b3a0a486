"""alerts, their delivery outbox, daily digests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import monitor.store.schema


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_alerts_dedup_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_created', ['created_at'], unique=False)

    op.create_table('digests',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('built_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('html_path', sa.Text(), nullable=True),
    sa.Column('text_path', sa.Text(), nullable=True),
    sa.Column('email_status', sa.String(length=16), nullable=False),
    sa.Column('email_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('email_error', sa.Text(), nullable=True),
    sa.Column('emailed_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_digests'))
    )
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', monitor.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_deliveries_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('alert_id', 'channel', name=op.f('uq_alert_deliveries_alert_id_channel'))
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_alert_deliveries_due', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_deliveries_due')
    op.drop_table('alert_deliveries')
    op.drop_table('digests')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_created')
    op.drop_table('alerts')
