"""content version for the page cache

One row whose number goes up after every commit that can change a public page; the page cache
(webapp/pagecache.py) serves a stored page only while the number is the one it was stored under.

Revision ID: c08pagecache
Revises: 546bf7d2a46e
Create Date: 2026-11-23 16:47:07.598805

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c08pagecache'
down_revision = '546bf7d2a46e'
branch_labels = None
depends_on = None


def upgrade():
    content_versions = op.create_table('content_versions',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_versions'))
    )
    op.bulk_insert(content_versions, [{"id": 1, "n": 0}])


def downgrade():
    op.drop_table('content_versions')
