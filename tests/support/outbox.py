"""Read the outbox rows a test's requests wrote."""

from sqlalchemy import select

from webapp.outbox.models import OutboxMail


def mails(session, *, kind: str | None = None, recipient: str | None = None) -> list[OutboxMail]:
    """The queued mails, oldest first, read afresh (another request may have written them)."""
    session.expire_all()
    query = select(OutboxMail).order_by(OutboxMail.id)
    if kind:
        query = query.where(OutboxMail.kind == kind)
    if recipient:
        query = query.where(OutboxMail.recipient == recipient)
    return list(session.scalars(query))
