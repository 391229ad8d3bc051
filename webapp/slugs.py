"""Slugs: the readable part of a group's or an event's address, made once and unique in its table."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session


def slugify(text: str, *, max_length: int) -> str:
    """Lower-case ASCII words joined by hyphens ("Café Night!" gives "cafe-night"); may be empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_length].strip("-")


def unique_slug(session: Session, column: InstrumentedAttribute, text: str, *, max_length: int,
                fallback: str) -> str:
    """The slug of `text` (or `fallback` when it has no letters), with -2, -3… added until no row
    of `column`'s table has it. `max_length` leaves room in the column for that suffix."""
    base = slugify(text, max_length=max_length) or fallback
    taken = set(session.scalars(select(column).where(column.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug
