"""events next queue number

The registration service hands out waitlist places from a counter on the locked event row
instead of reading max(queue_number) of the line each time (issue 3, one round trip less while
the lock is held). Existing events start where their line left off.

Revision ID: e10queue
Revises: e30attendance
Create Date: 2026-11-23 19:11:35.375958

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'e10queue'
down_revision = 'e30attendance'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_queue_number', sa.Integer(), server_default='1', nullable=False))
    # Past every number already handed out (cancelled and promoted members keep theirs), so the
    # unique (event_id, queue_number) never sees a number twice.
    op.execute(
        "UPDATE events SET next_queue_number = 1 + COALESCE("
        "(SELECT MAX(queue_number) FROM registrations WHERE registrations.event_id = events.id), 0)"
    )


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('next_queue_number')
