"""outbox mails linked to their registration and event; change mails' records

Issue 17: code found an attendee's mails by parsing dedup keys ("<kind>:<registration id>:..."),
which made the key format a hidden schema. Mails now carry `registration_id` and `event_id`, and
each change mail has an `event_change_mails` row (which version of the event it told about, and
what changed). This migration fills both for existing rows from their keys: the last place that
reads a dedup key.

Revision ID: f4links
Revises: f3limit
Create Date: 2026-12-03 07:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f4links'
down_revision = 'f3limit'
branch_labels = None
depends_on = None

# The key formats as they were written up to f3limit, for the backfill only.
REGISTRATION_KEYS = ('registration', 'reminder', 'event_changed', 'event_cancelled', 'event_message')
CHANGE_KIND = 'event_changed'
CHUNK = 500


def upgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('event_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_mails_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mails_event_id'), ['event_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_mails_registration_id_registrations'), 'registrations',
                                    ['registration_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_outbox_mails_event_id_events'), 'events',
                                    ['event_id'], ['id'], ondelete='SET NULL')
    op.create_table(
        'event_change_mails',
        sa.Column('outbox_mail_id', sa.Integer(), nullable=False),
        sa.Column('registration_id', sa.Integer(), nullable=False),
        sa.Column('registration_generation', sa.Integer(), nullable=False),
        sa.Column('event_sequence', sa.Integer(), nullable=False),
        sa.Column('changes', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['outbox_mail_id'], ['outbox_mails.id'],
                                name=op.f('fk_event_change_mails_outbox_mail_id_outbox_mails'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
                                name=op.f('fk_event_change_mails_registration_id_registrations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('outbox_mail_id', name=op.f('pk_event_change_mails')),
    )
    with op.batch_alter_table('event_change_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_change_mails_registration_id'), ['registration_id'], unique=False)
    backfill(op.get_bind())


def parse_key(key):
    """(kind, registration id, the rest) of a registration's mail key, or None for other mails.

    The sender's copy of an event message, "event_message:copy:<message id>", gives registration
    id None and the message id as the rest.
    """
    kind, _, rest = key.partition(':')
    if kind not in REGISTRATION_KEYS:
        return None
    first, _, rest = rest.partition(':')
    if first.isdigit():
        return kind, int(first), rest
    if kind == 'event_message' and first == 'copy' and rest.isdigit():
        return kind, None, rest
    return None


def backfill(connection):
    mails = sa.table('outbox_mails', sa.column('id', sa.Integer), sa.column('dedup_key', sa.String),
                     sa.column('registration_id', sa.Integer), sa.column('event_id', sa.Integer))
    registrations = sa.table('registrations', sa.column('id', sa.Integer), sa.column('event_id', sa.Integer))
    messages = sa.table('event_messages', sa.column('id', sa.Integer), sa.column('event_id', sa.Integer))
    changes = sa.table('event_change_mails', sa.column('outbox_mail_id', sa.Integer),
                       sa.column('registration_id', sa.Integer), sa.column('registration_generation', sa.Integer),
                       sa.column('event_sequence', sa.Integer), sa.column('changes', sa.String))
    event_of_registration = dict(connection.execute(sa.select(registrations.c.id, registrations.c.event_id)).all())
    event_of_message = dict(connection.execute(sa.select(messages.c.id, messages.c.event_id)).all())
    links, records = [], []
    for mail_id, key in connection.execute(
        sa.select(mails.c.id, mails.c.dedup_key).where(
            sa.or_(*(mails.c.dedup_key.like(f'{kind}:%') for kind in REGISTRATION_KEYS))
        )
    ):
        parsed = parse_key(key)
        if parsed is None:
            continue
        kind, registration_id, rest = parsed
        if registration_id is None:  # the sender's copy of a message: the event only
            event_id = event_of_message.get(int(rest))
            if event_id is not None:
                links.append(dict(mail_id=mail_id, link_registration=None, link_event=event_id))
            continue
        if registration_id not in event_of_registration:
            continue  # its registration is gone (the foreign key would refuse the dangling id)
        links.append(dict(mail_id=mail_id, link_registration=registration_id,
                          link_event=event_of_registration[registration_id]))
        # event_changed:<registration>:<generation>:<sequence>[:<changes>]; keys from before the
        # changes were part of them were about the time.
        parts = rest.split(':')
        if kind == CHANGE_KIND and len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            records.append(dict(outbox_mail_id=mail_id, registration_id=registration_id,
                                registration_generation=int(parts[0]), event_sequence=int(parts[1]),
                                changes=parts[2] if len(parts) > 2 and parts[2] else 'time'))
    update = (
        sa.update(mails).where(mails.c.id == sa.bindparam('mail_id'))
        .values(registration_id=sa.bindparam('link_registration'), event_id=sa.bindparam('link_event'))
    )
    for start in range(0, len(links), CHUNK):
        connection.execute(update, links[start:start + CHUNK])
    for start in range(0, len(records), CHUNK):
        connection.execute(sa.insert(changes), records[start:start + CHUNK])


def downgrade():
    with op.batch_alter_table('event_change_mails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_change_mails_registration_id'))
    op.drop_table('event_change_mails')
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_mails_event_id_events'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_outbox_mails_registration_id_registrations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_mails_event_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_mails_registration_id'))
        batch_op.drop_column('event_id')
        batch_op.drop_column('registration_id')
