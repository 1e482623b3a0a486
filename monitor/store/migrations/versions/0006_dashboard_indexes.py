"""dashboard: index events on their publication time and results on their values

The overview lists the latest events first (ORDER BY published_at DESC LIMIT n)
and filters on date ranges; sorted by the day-0 abnormal return, its t or a
window's CAR it walks event_returns in that order. With these indexes the
database reads one page of rows instead of joining and sorting every event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_published_at', ['published_at'], unique=False)
    with op.batch_alter_table('event_returns', schema=None) as batch_op:
        batch_op.create_index('ix_event_returns_window_abnormal', ['window_start', 'window_end', 'abnormal_return'],
                              unique=False)
        batch_op.create_index('ix_event_returns_window_t', ['window_start', 'window_end', 't_stat'], unique=False)
        batch_op.create_index('ix_event_returns_window_car', ['window_start', 'window_end', 'car'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('event_returns', schema=None) as batch_op:
        batch_op.drop_index('ix_event_returns_window_car')
        batch_op.drop_index('ix_event_returns_window_t')
        batch_op.drop_index('ix_event_returns_window_abnormal')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_published_at')
