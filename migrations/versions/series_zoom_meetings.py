"""A series can have the site make a Zoom meeting for each of its sessions.

Revision ID: series_zoom_meetings
Revises: zoom_meetings_and_intents
Create Date: 2026-12-03 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'series_zoom_meetings'
down_revision = 'zoom_meetings_and_intents'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_zoom_meeting', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('is_zoom_meeting')
