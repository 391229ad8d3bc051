"""Merge the reminders, proposals and page-cache branches into one history

Revision ID: d01merge
Revises: a10reminders, b11proposals, c08pagecache
Create Date: 2026-11-23 17:00:00

"""

# revision identifiers, used by Alembic.
revision = "d01merge"
down_revision = ("a10reminders", "b11proposals", "c08pagecache")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
