"""The events list says what is true when it is empty: "yet" with nothing to narrow, "match" only when
a search or filter narrowed it (issue 18)."""

from __future__ import annotations

from datetime import timedelta

from tests.factories import create_event
from tests.support.html import by_id, parse, text
from webapp.db import db, utcnow


def results(client, path: str) -> tuple[str, str]:
    section = by_id(parse(client.get(path).get_data(as_text=True)), "event-results")
    empty = section.find(class_="empty")
    return text(section.find(id="results-count")), text(empty) if empty else ""


def test_no_events_at_all_says_yet_not_match(client, session):
    heading, empty = results(client, "/events?when=past")
    assert heading == "No past events yet." and "match" not in empty and "Try fewer words" not in empty
    heading, empty = results(client, "/events")
    assert heading == "No upcoming events yet." and "Try fewer words" not in empty
    assert "past events" in empty and "browse the groups" in empty


def test_a_search_that_finds_nothing_says_match_and_how_to_widen_it(client, session):
    create_event(title="Linked Data Lunch")
    db.session.commit()
    heading, empty = results(client, "/events?q=zines")
    assert heading == "No upcoming events match." and empty.startswith("Try fewer words")
    heading, empty = results(client, "/events?when=past&format=in-person")
    assert heading == "No past events match." and empty.startswith("Try fewer words")


def test_counts_read_singular_and_plural_and_say_match_only_when_narrowed(client, session):
    create_event(title="Linked Data Lunch")
    db.session.commit()
    assert results(client, "/events")[0] == "1 upcoming event"
    assert results(client, "/events?q=linked")[0] == "1 upcoming event matches"
    create_event(title="Linked Data Dinner", starts_at=utcnow() + timedelta(days=2))
    db.session.commit()
    assert results(client, "/events")[0] == "2 upcoming events"
    assert results(client, "/events?q=linked")[0] == "2 upcoming events match"
