"""A mail's subject, text and HTML from `templates/mail/<kind>`: now, or later from facts stored with it.

`templates/mail/<kind>.txt` and `.html` are the two bodies; the HTML one (it extends
`mail/_layout.html`) names the subject in its `subject` block, which is also its <title>, so the
subject is written once, next to the words it sums up, and not in the Python that sends it.

A busy kind (a registration's confirmation, a reminder) is not rendered in the transaction that
queues it: its row keeps the template's name and a *frozen* context, the facts the mail needs as
plain values captured at commit (strings, numbers, datetimes, lists and dicts of them; never a
model object, whose state would be read later), and the worker renders the bodies right before the
first send (`fill_in_bodies`) and stores them, so every later attempt sends the same words. The
subject is rendered at once: it is small, and the outbox page and the attendee list show it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from jinja2_fragments.flask import render_block
from markupsafe import Markup

_DATETIME = "$datetime"
# The facts of the mail's calendar file (invite.ics), when it is made later too; never a template's.
CALENDAR_FACTS = "$calendar"
_calendar_builder: Callable[[Facts], str] | None = None


def register_calendar_builder(build: Callable[[Facts], str]) -> None:
    """How the worker writes a calendar file from its facts (webapp/registrations/mails.py registers it:
    the outbox knows no domain)."""
    global _calendar_builder
    _calendar_builder = build


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render_subject(kind: str, context: dict) -> str:
    # The block comes out HTML-escaped ("Zines &amp; Comics"); striptags unescapes it and
    # collapses the whitespace of a block written over several lines, as a header needs.
    return Markup(render_block(f"mail/{kind}.html", "subject", **context)).striptags()


def render_bodies(kind: str, context: dict) -> tuple[str, str]:
    """The text and the HTML of `mail/<kind>` for this context."""
    return render_template(f"mail/{kind}.txt", **context), render_template(f"mail/{kind}.html", **context)


def render_mail(kind: str, context: dict) -> RenderedMail:
    """The subject, text and HTML of `mail/<kind>` for this context."""
    text, html = render_bodies(kind, context)
    return RenderedMail(subject=render_subject(kind, context), text=text, html=html)


class MissingFact(Exception):
    """A template read a fact its frozen context does not have: the mail fails loudly instead of
    going out with a blank where the fact should be (the golden tests render every kind so)."""


class Facts(dict):
    """A frozen object (an event, a member) as a template reads it: `event.title`, and
    `full_place(event)` in Python alike."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            if name.startswith("__"):  # markupsafe, copy, pickle asking for protocols
                raise AttributeError(name) from None
            raise MissingFact(f"the mail's stored context has no {name!r}") from None


def freeze(value):
    """A context as JSON: plain values as they are, datetimes tagged, dataclasses (an agenda item)
    as dicts; anything else (a model object) is refused, since its state would be read later."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dict):
        return {str(key): freeze(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [freeze(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: freeze(getattr(value, field.name)) for field in dataclasses.fields(value)}
    raise TypeError(f"a mail's context holds facts, not {type(value).__name__} objects")


def thaw(value):
    """A frozen context as templates read it: datetimes back, dicts readable by attribute."""
    if isinstance(value, dict):
        if len(value) == 1 and _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        return Facts({key: thaw(item) for key, item in value.items()})
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def fill_in_bodies(mail) -> None:
    """Render a row's bodies (and calendar file) from its frozen context, if it has one, and forget
    the context: from now on the row carries its words, as any other mail does (retries, the
    retention sweep)."""
    if mail.context is None:
        return
    text, html, ics = render_stored(mail)
    mail.body_text, mail.body_html, mail.ics = text, html, ics
    mail.context = None


def render_stored(mail) -> tuple[str, str | None, str | None]:
    """(text, HTML, calendar file) of a row as the worker sends it: from its frozen context where it
    has one; what it carries already is kept (a re-check may have written the bodies: a reminder's
    Zoom link)."""
    if mail.context is None:
        return mail.body_text, mail.body_html, mail.ics
    context = thaw(mail.context)
    calendar = context.pop(CALENDAR_FACTS, None)
    text, html = (mail.body_text, mail.body_html) if mail.body_text else render_bodies(mail.template or mail.kind,
                                                                                        context)
    ics = _calendar_builder(calendar) if calendar is not None and mail.ics is None else mail.ics
    return text, html, ics
