"""sign-in requests indexed by address and time

Issue 16: while Redis is down, the sign-in limit per address counts the address's recent
requests in the database instead of switching off; this index keeps that count cheap.

Revision ID: f3limit
Revises: f2sess
Create Date: 2026-12-03 07:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3limit'
down_revision = 'f2sess'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_sign_in_requests_email_created_at', 'sign_in_requests', ['email', 'created_at'])


def downgrade():
    op.drop_index('ix_sign_in_requests_email_created_at', table_name='sign_in_requests')
