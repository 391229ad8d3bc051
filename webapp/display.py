"""How dates, times and text look to people: New York time with the zone named, safe Markdown,
counts with the right singular or plural, one-line summaries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import nh3
from flask import current_app
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre",
    "h2", "h3", "h4", "hr",
}


def site_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def local(dt: datetime) -> datetime:
    return dt.astimezone(site_zone())


def _clock(dt: datetime) -> str:
    hour = dt.hour % 12 or 12
    minutes = f":{dt.minute:02d}" if dt.minute else ""
    return f"{hour}{minutes}\u202f{'AM' if dt.hour < 12 else 'PM'}"


def format_clock(t) -> str:
    """'6 PM', '6:30 PM': a time of day (a datetime already in site time, or a series' wall-clock time)."""
    return _clock(t)


def format_date(dt: datetime) -> str:
    """'Thursday, December 3, 2026' in site time."""
    d = local(dt)
    return f"{d:%A}, {d:%B} {d.day}, {d.year}"


def format_short_date(dt: datetime) -> str:
    d = local(dt)
    return f"{d:%a}, {d:%b} {d.day}"


def format_day(dt: datetime) -> str:
    """'Dec 3, 2026' in site time: a date in a table's cell."""
    d = local(dt)
    return f"{d:%b} {d.day}, {d.year}"


def format_time_range(start: datetime, end: datetime) -> str:
    """'6–7:30 PM EST': the zone is always named, because members are not all in New York."""
    s, e = local(start), local(end)
    if s.date() != e.date():
        return f"{_clock(s)} {s:%Z} – {format_short_date(end)} {_clock(e)} {e:%Z}"
    return f"{_clock(s)}\u2013{_clock(e)} {e:%Z}"


def format_datetime(dt: datetime) -> str:
    d = local(dt)
    return f"{format_date(dt)}, {_clock(d)} {d:%Z}"


def format_utc(dt: datetime) -> str:
    """'23:00 UTC', or 'Friday 01:00 UTC' when it is another day in UTC than in site time."""
    u = dt.astimezone(UTC)
    day = f"{u:%A} " if u.date() != local(dt).date() else ""
    return f"{day}{u:%H:%M} UTC"


def format_mail_when(start: datetime, end: datetime) -> str:
    """'Thursday, January 14, 2027, 6–7:30 PM EST (23:00 UTC)': what every mail says of an event's time.

    New York time with its zone, and the start in UTC for the members abroad, who read mail away
    from the site and its local-time hints."""
    return f"{format_date(start)}, {format_time_range(start, end)} ({format_utc(start)})"


def format_start_from_now(starts_at: datetime, *, now: datetime) -> str:
    """'Today 6:00 PM EDT', 'Tomorrow 6:00 PM EST', else 'Saturday, Dec 5, 6:00 PM EST': the day as
    the reader counts it in site time at `now` (the moment the mail is written)."""
    s = local(starts_at)
    days = (s.date() - local(now).date()).days
    day = {0: "Today", 1: "Tomorrow"}.get(days, f"{s:%A}, {s:%b} {s.day},")
    # A header: a plain space and the minutes always, as people write a time in a subject.
    return f"{day} {s.hour % 12 or 12}:{s.minute:02d} {'AM' if s.hour < 12 else 'PM'} {s:%Z}"


@lru_cache(maxsize=2048)
def _render_markdown(text: str) -> str:
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def markdown(text: str | None) -> Markup:
    """Markdown to HTML with no raw HTML and no scripts; cached, since the same texts recur."""
    return Markup(_render_markdown(text or ""))


def plural(n: int, word: str, words: str | None = None, *, bare: bool = False) -> str:
    """'1 seat', '2 seats', '0 seats': the one place a count chooses its noun.

    Irregular words name their plural (`plural(n, "person", "people")`); `bare` leaves the number
    out, for a word that agrees with a number written elsewhere ("1 of 1 seat left").
    """
    chosen = word if n == 1 else (words or word + "s")
    return chosen if bare else f"{n} {chosen}"


# A full stop ends a sentence unless it ends one of these (or a single letter, as in "U.S.").
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "st", "no", "inc", "ph.d"}
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s|$)")
SUMMARY_MAX = 160
_TRAILING_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the",
                   "through", "to", "with", "who", "that", "which", "their", "our", "its"}


def _first_paragraph(text: str) -> str:
    """The first paragraph of Markdown `text` as plain words: no markup, links as their text."""
    tokens = _markdown.parse(text or "")
    for index, token in enumerate(tokens):
        if token.type == "paragraph_open":
            words = []
            for child in tokens[index + 1].children or []:
                if child.type in ("text", "code_inline"):
                    words.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    words.append(" ")
            return " ".join("".join(words).split())
    return ""


def summary(text: str | None, limit: int = SUMMARY_MAX) -> str:
    """A one-line summary of a Markdown description: its first sentence, at most `limit` characters
    (cut at a word, with an ellipsis). The groups directory shows it under each group's name."""
    paragraph = _first_paragraph(text or "")
    for end in _SENTENCE_END.finditer(paragraph):
        before = paragraph[:end.start()].rsplit(" ", 1)[-1].lower()
        if paragraph[end.start()] == "." and (before in _ABBREVIATIONS or re.fullmatch(r"(?:\w\.)*\w", before)):
            continue
        paragraph = paragraph[:end.end()]
        break
    if len(paragraph) <= limit:
        return paragraph
    words = paragraph[:limit - 1].rsplit(" ", 1)[0].split(" ")
    # "…facilitate growth in the…" reads broken: end on a word that carries meaning.
    while len(words) > 1 and words[-1].lower().strip(",;:") in _TRAILING_WORDS:
        words.pop()
    return " ".join(words).rstrip(",;:—– ") + "…"


def register(app) -> None:
    app.jinja_env.globals["plural"] = plural
    app.jinja_env.filters.update(
        summary=summary,
        date=format_date,
        short_date=format_short_date,
        day=format_day,
        time_range=format_time_range,
        datetime=format_datetime,
        markdown=markdown,
        isodate=lambda dt: dt.isoformat(),
    )
