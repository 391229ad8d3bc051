"""A member who deleted their account keeps an emptied users row (users.deleted_at), so past
attendance still counts.

Revision ID: users_deleted_at
Revises: event_agenda_sequence
Create Date: 2026-12-03 16:04:41.295043

"""
from alembic import op
import sqlalchemy as sa

from webapp.db import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'users_deleted_at'
down_revision = 'event_agenda_sequence'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', UTCDateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')

