"""Filters and validators the site's forms share: trimming, length, one line, no control characters,
no markup. Each message says what to change, for the field it sits next to."""

from __future__ import annotations

import re

from wtforms.validators import Length, StopValidation, ValidationError

from webapp.accounts.services import has_control_characters

_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")
SEARCH_MAX = 100


def clean_query(value: str | None, limit: int = SEARCH_MAX) -> str:
    """A search box's text as typed (attendees, group health), trimmed and capped; control
    characters become spaces."""
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in (value or "")[:limit])
    return " ".join(text.split())


def strip(value):
    return value.strip() if isinstance(value, str) else value


def normalize_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(value, str) else value


class AtMost(Length):
    """A maximum length, checked on the server, whose message names the field and the limit.

    Still a Length, so WTForms renders the matching maxlength attribute for the browser too.
    """

    def __init__(self, limit: int, name: str | None = None):
        super().__init__(max=limit)
        self.name = name

    def __call__(self, form, field) -> None:
        length = len(field.data or "")
        if length > self.max:
            raise ValidationError(too_long_message(self.name or field.label.text, self.max, length))


def too_long_message(name: str, limit: int, length: int | None = None) -> str:
    """ "Accessibility needs can be at most 1,000 characters (this has 1,204)." """
    has = f" (this has {length:,})" if length is not None else ""
    return f"{name} can be at most {limit:,} characters{has}."


def at_most(limit: int, name: str | None = None) -> AtMost:
    """`name` when the field's label doesn't read well in "… can be at most N characters"."""
    return AtMost(limit, name)


def one_line(form, field) -> None:
    if field.data and has_control_characters(field.data):
        raise ValidationError("Please remove line breaks and other special control characters.")


def clean_text(form, field) -> None:
    """Long fields may have line breaks and tabs, never other control characters."""
    if field.data and has_control_characters(field.data.replace("\n", "").replace("\t", "")):
        raise ValidationError("Please remove special control characters (they may come from copying and pasting).")


def no_markup(form, field) -> None:
    if field.data and _MARKUP.search(field.data):
        raise ValidationError("Please write plain text: HTML tags like <b> aren’t allowed here.")


def no_raw_html(form, field) -> None:
    if field.data and _MARKUP.search(field.data):
        raise ValidationError(
            "HTML isn’t allowed here. Use Markdown instead: **bold**, *italic*, [a link](https://…), - lists."
        )


def required(message: str):
    """A required field, with a message in the site's words (blank or only spaces is missing)."""

    def check(form, field) -> None:
        if not (field.data or "").strip():
            raise StopValidation(message)

    return check
