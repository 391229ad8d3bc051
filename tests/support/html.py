"""Read pages as a browser and a screen reader do: by ids, labels, roles and table headers, not by
where a string happens to fall in the markup."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup, Tag


def parse(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def text(element: Tag) -> str:
    """The element's text as read aloud: every piece once, runs of whitespace as one space."""
    return " ".join(element.get_text(" ").split())


def by_id(html: str | Tag, element_id: str) -> Tag:
    found = (parse(html) if isinstance(html, str) else html).find(id=element_id)
    assert found is not None, f"no element with id={element_id!r}"
    return found


def labelled_by(html: str | Tag, title_id: str) -> Tag:
    """The region (a table's scroll box, a section) named by the heading with id `title_id`."""
    found = (parse(html) if isinstance(html, str) else html).find(attrs={"aria-labelledby": title_id})
    assert found is not None, f"nothing is labelled by #{title_id}"
    return found


def section_of(html: str | Tag, title_id: str) -> Tag:
    """The <section> whose heading has id `title_id`."""
    section = by_id(html, title_id).find_parent("section")
    assert section is not None, f"#{title_id} heads no section"
    return section


def row_headers(container: Tag) -> list[str]:
    """The names heading each table row (`<th scope="row">`), without what follows on later lines."""
    return [next(th.stripped_strings) for th in container.select('th[scope="row"]')]


def cells_by_column(row: Tag) -> dict[str, str]:
    """A table row's cells' text, by the column headers of its table."""
    headers = [text(th) for th in row.find_parent("table").select("thead th")]
    return dict(zip(headers, (text(cell) for cell in row.find_all(["th", "td"], recursive=False)), strict=False))


def csrf_token_in(html: str) -> str:
    """The CSRF token a page hands to htmx (in the hx-headers of its body)."""
    return json.loads(parse(html).find(attrs={"hx-headers": True})["hx-headers"])["X-CSRFToken"]
