"""Read the outbox rows a test's requests wrote."""

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from webapp.outbox.models import OutboxMail
from webapp.outbox.rendering import render_stored


def mails(session, *, kind: str | None = None, recipient: str | None = None) -> list[OutboxMail]:
    """The queued mails, oldest first, read afresh (another request may have written them), each
    with the words it will be sent with (`as_sent`)."""
    session.expire_all()
    query = select(OutboxMail).order_by(OutboxMail.id)
    if kind:
        query = query.where(OutboxMail.kind == kind)
    if recipient:
        query = query.where(OutboxMail.recipient == recipient)
    return [as_sent(mail) for mail in session.scalars(query)]


def as_sent(mail: OutboxMail) -> OutboxMail:
    """A mail the worker renders from its stored facts (webapp/outbox/rendering.py), with the bodies
    and calendar file it will render, in memory only: the row itself stays as queued (its context,
    empty bodies)."""
    if mail.context is not None:
        for name, value in zip(("body_text", "body_html", "ics"), render_stored(mail), strict=True):
            set_committed_value(mail, name, value)
    return mail
