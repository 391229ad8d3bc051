"""A whole-series registration keeps the member's accessibility needs, for the sessions made later.

Revision ID: series_registration_needs
Revises: series_slot_offers
Create Date: 2026-12-03 14:55:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'series_registration_needs'
down_revision = 'series_slot_offers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('series_registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accessibility_needs', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('series_registrations', schema=None) as batch_op:
        batch_op.drop_column('accessibility_needs')
