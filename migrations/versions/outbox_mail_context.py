"""Outbox mails rendered in the worker: the template and the facts captured at commit (outbox_mails.template, .context).

Revision ID: outbox_mail_context
Revises: series_zoom_meetings
Create Date: 2026-12-03 18:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'outbox_mail_context'
down_revision = 'series_zoom_meetings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('context', sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_column('context')
        batch_op.drop_column('template')
