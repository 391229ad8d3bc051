"""Zoom meetings made by the site: the event's choice and meeting id, each attendee's registrant,
join URL and attendance from Zoom, and the intents that carry every Zoom call out once.

Revision ID: zoom_meetings_and_intents
Revises: registrations_show_name
Create Date: 2026-12-03 15:20:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'zoom_meetings_and_intents'
down_revision = 'registrations_show_name'
branch_labels = None
depends_on = None

KINDS = ('create_meeting', 'update_meeting', 'delete_meeting', 'add_registrant', 'cancel_registrant',
         'import_attendance')
STATES = ('queued', 'working', 'retry', 'done', 'failed')


def upgrade():
    op.create_table(
        'zoom_intents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(*KINDS, name='zoom_intent_kind', native_enum=False, length=20,
                                  create_constraint=True), nullable=False),
        sa.Column('dedup_key', sa.String(length=200), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('registration_id', sa.Integer(), nullable=True),
        sa.Column('zoom_meeting_id', sa.String(length=40), nullable=True),
        sa.Column('state', sa.Enum(*STATES, name='zoom_intent_state', native_enum=False, length=20,
                                   create_constraint=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('claim_token', sa.String(length=155), nullable=True),
        sa.Column('done_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_zoom_intents_event_id_events'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
                                name=op.f('fk_zoom_intents_registration_id_registrations'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_zoom_intents')),
        sa.UniqueConstraint('dedup_key', name=op.f('uq_zoom_intents_dedup_key')),
    )
    with op.batch_alter_table('zoom_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zoom_intents_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_zoom_intents_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_zoom_intents_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_zoom_intents_next_attempt_at'), ['next_attempt_at'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_zoom_meeting', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('zoom_meeting_id', sa.String(length=40), nullable=True))
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zoom_registrant_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('zoom_join_url', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('zoom_joined_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('zoom_seconds', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('zoom_seconds')
        batch_op.drop_column('zoom_joined_at')
        batch_op.drop_column('zoom_join_url')
        batch_op.drop_column('zoom_registrant_id')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('zoom_meeting_id')
        batch_op.drop_column('is_zoom_meeting')
    with op.batch_alter_table('zoom_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zoom_intents_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_zoom_intents_state'))
        batch_op.drop_index(batch_op.f('ix_zoom_intents_registration_id'))
        batch_op.drop_index(batch_op.f('ix_zoom_intents_event_id'))
    op.drop_table('zoom_intents')
