"""Mail written from templates: one call renders a kind's text, HTML and subject and queues it.

The rendering itself is webapp/outbox/rendering.py; `render_later=True` queues the template's
name and the frozen facts instead of the bodies, for the worker to render (the busy kinds: a
registration's mails, the reminders).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from webapp.outbox.models import OutboxMail
from webapp.outbox.rendering import CALENDAR_FACTS, RenderedMail, freeze, render_mail, render_subject, thaw
from webapp.outbox.services import mail_row, queue_mail, queue_mails

__all__ = ["MailTo", "RenderedMail", "queue_templated_mail", "queue_templated_mails", "render_mail"]


@dataclass(frozen=True)
class MailTo:
    """One recipient's mail in a batch of one kind: the address, the template's context, the key
    that keeps its cause unique, and any extra headers."""

    to: str
    context: dict
    dedup_key: str
    headers: dict[str, str] | None = None


def queue_templated_mail(session: Session, kind: str, to: str, context: dict, dedup_key: str,
                         ics: str | None = None, *, template: str | None = None, render_later: bool = False,
                         calendar_facts: dict | None = None, **fields) -> OutboxMail | None:
    """Render `mail/<template or kind>` and queue it as an outbox row of this kind.

    `template` is for kinds that share one (every proposal decision is `proposal_decision`);
    `render_later`: `context` is facts only (plain values: see rendering.freeze), stored with the
    row and rendered by the worker; only the subject is rendered now. `calendar_facts` (with
    `render_later`, instead of `ics`): the worker writes the calendar file from them too.
    `fields` (reply_to, now, flush, ...) go to `queue_mail` as they are.
    """
    template = template or kind
    if render_later:
        frozen = freeze(context if calendar_facts is None else {**context, CALENDAR_FACTS: calendar_facts})
        # From the facts as stored, so the subject and the bodies are written from the same values.
        return queue_mail(session, kind=kind, dedup_key=dedup_key, recipient=to,
                          subject=render_subject(template, thaw(frozen)), body_text="", ics=ics,
                          template=template, context=frozen, **fields)
    mail = render_mail(template, context)
    return queue_mail(session, kind=kind, dedup_key=dedup_key, recipient=to, subject=mail.subject,
                      body_text=mail.text, body_html=mail.html, ics=ics, **fields)


def queue_templated_mails(session: Session, kind: str, mails: list[MailTo], *, now) -> list[int]:
    """Render `mail/<kind>` for each recipient and queue them all in a few statements (`queue_mails`);
    the ids of the rows written, a key queued before being skipped as `queue_templated_mail` skips it."""
    rows = []
    for mail in mails:
        rendered = render_mail(kind, mail.context)
        rows.append(mail_row(kind=kind, dedup_key=mail.dedup_key, recipient=mail.to, subject=rendered.subject,
                             body_text=rendered.text, body_html=rendered.html, headers=mail.headers, now=now))
    return queue_mails(session, rows)
