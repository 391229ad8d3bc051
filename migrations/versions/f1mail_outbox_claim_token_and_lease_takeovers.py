"""outbox: claim token and lease takeovers

Issue 16: a claim records the id of the task that made it (so that task, redelivered after its
worker was lost, takes its rows back at once) and counts the claims that took a row over mid-send
(the mail may have arrived twice; the outbox page shows those).

Revision ID: f1mail
Revises: e10queue
Create Date: 2026-12-02 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f1mail'
down_revision = 'e10queue'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=155), nullable=True))
        batch_op.add_column(sa.Column('lease_takeovers', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_column('lease_takeovers')
        batch_op.drop_column('claim_token')
