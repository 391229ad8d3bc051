"""A series' schedule can change: the days of the earlier schedules still count toward its end_count.

Revision ID: series_sessions_before
Revises: users_deleted_at
Create Date: 2026-12-03 15:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'series_sessions_before'
down_revision = 'users_deleted_at'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sessions_before', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('sessions_before')
