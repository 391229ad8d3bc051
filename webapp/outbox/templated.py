"""Mail written from templates: one call renders a kind's text, HTML and subject and queues it.

`templates/mail/<kind>.txt` and `.html` are the two bodies; the HTML one (it extends
`mail/_layout.html`) names the subject in its `subject` block, which is also its <title>, so the
subject is written once, next to the words it sums up, and not in the Python that sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy.orm import Session

from webapp.outbox.models import OutboxMail
from webapp.outbox.services import mail_row, queue_mail, queue_mails


@dataclass(frozen=True)
class MailTo:
    """One recipient's mail in a batch of one kind: the address, the template's context, the key
    that keeps its cause unique, and any extra headers."""

    to: str
    context: dict
    dedup_key: str
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render_mail(kind: str, context: dict) -> RenderedMail:
    """The subject, text and HTML of `mail/<kind>` for this context."""
    # The block comes out HTML-escaped ("Zines &amp; Comics"); striptags unescapes it and
    # collapses the whitespace of a block written over several lines, as a header needs.
    subject = Markup(render_block(f"mail/{kind}.html", "subject", **context)).striptags()
    return RenderedMail(
        subject=subject,
        text=render_template(f"mail/{kind}.txt", **context),
        html=render_template(f"mail/{kind}.html", **context),
    )


def queue_templated_mail(session: Session, kind: str, to: str, context: dict, dedup_key: str,
                         ics: str | None = None, *, template: str | None = None,
                         **fields) -> OutboxMail | None:
    """Render `mail/<template or kind>` and queue it as an outbox row of this kind.

    `template` is for kinds that share one (every proposal decision is `proposal_decision`);
    `fields` (reply_to, now, flush, ...) go to `queue_mail` as they are.
    """
    mail = render_mail(template or kind, context)
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
