"""One slug rule for groups and events: ASCII words with hyphens, a fallback, -2, -3… until unique."""

from __future__ import annotations

from tests.factories import create_event, create_group
from webapp.events.models import Event
from webapp.groups.models import Group
from webapp.slugs import slugify, unique_slug


def test_a_slug_is_lower_case_ascii_words_joined_by_hyphens_cut_at_a_word_edge():
    assert slugify("  Café Night: Maps & Zines! ", max_length=100) == "cafe-night-maps-zines"
    assert slugify("Linked data round table", max_length=11) == "linked-data"
    assert slugify("日本語", max_length=100) == ""


def test_a_taken_slug_gets_the_next_free_number_in_its_own_table(session):
    create_group(slug="map-night")
    create_group(slug="map-night-2")
    create_event(slug="zine-day")
    session.flush()
    assert unique_slug(session, Group.slug, "Map Night", max_length=70, fallback="group-1") == "map-night-3"
    assert unique_slug(session, Event.slug, "Map Night", max_length=100, fallback="event") == "map-night"
    assert unique_slug(session, Event.slug, "Zine day", max_length=100, fallback="event") == "zine-day-2"


def test_a_name_without_letters_takes_the_fallback(session):
    assert unique_slug(session, Group.slug, "!!!", max_length=70, fallback="group-7") == "group-7"
    assert unique_slug(session, Event.slug, "", max_length=100, fallback="event") == "event"
