"""An event's agenda changes raise its calendar SEQUENCE without resending its reminders (events.agenda_sequence).

Revision ID: event_agenda_sequence
Revises: retention_erased_marks
Create Date: 2026-12-03 15:15:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'event_agenda_sequence'
down_revision = 'retention_erased_marks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agenda_sequence', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('agenda_sequence')
