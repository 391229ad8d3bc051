"""event drafts and venue accessibility

Issue 12: in-person events describe the venue's accessibility (`events.venue_accessibility`).
Drafts need no schema change: `event_status` has allowed 'draft' from the start.

Revision ID: e20drafts
Revises: e40invites
Create Date: 2026-11-23 19:08:16.954902

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e20drafts'
down_revision = 'e40invites'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('venue_accessibility', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('venue_accessibility')
