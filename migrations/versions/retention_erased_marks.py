"""The retention sweeps mark what they erased (a registration's needs, a mail's bodies); events.ends_at
is indexed for them (and the feeds' "ended since").

Revision ID: retention_erased_marks
Revises: series_registration_needs
Create Date: 2026-12-03 15:31:32.299420

"""
from alembic import op
import sqlalchemy as sa

from webapp.db import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'retention_erased_marks'
down_revision = 'series_registration_needs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_ends_at'), ['ends_at'], unique=False)

    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_erased_at', UTCDateTime(), nullable=True))

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accessibility_needs_erased_at', UTCDateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('accessibility_needs_erased_at')

    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_column('body_erased_at')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_ends_at'))

