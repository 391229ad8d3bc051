"""A member may show their name on an event's Going list (registrations.show_name, off by default).

Revision ID: registrations_show_name
Revises: series_sessions_before
Create Date: 2026-12-03 16:20:38.411077

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'registrations_show_name'
down_revision = 'series_sessions_before'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_name', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('show_name')

