"""How counts and summaries read (webapp/display.py): one helper for singular and plural, one for a
group's one-line summary; and the pages that count or summarize use them (issue 18)."""

from __future__ import annotations

import pytest

from tests.factories import create_event, create_group, create_user
from webapp.db import db
from webapp.display import SUMMARY_MAX, plural, summary


@pytest.mark.parametrize(("n", "expected"), [(0, "0 seats"), (1, "1 seat"), (2, "2 seats"), (21, "21 seats")])
def test_plural_chooses_the_noun_by_the_count(n, expected):
    assert plural(n, "seat") == expected


def test_plural_takes_an_irregular_plural_and_can_leave_the_number_out():
    assert plural(1, "person", "people") == "1 person"
    assert plural(3, "person", "people") == "3 people"
    assert plural(2, "match", "matches") == "2 matches"
    assert plural(1, "seat", bare=True) == "seat"
    assert plural(5, "was", "were", bare=True) == "were"


def test_summary_is_the_first_sentence_as_plain_text():
    assert summary("Open to all. Second sentence here.") == "Open to all."
    assert summary("If you’re into UX, the **UX SIG** is for you! Support our SIG.") == \
        "If you’re into UX, the UX SIG is for you!"
    assert summary("Read [our notes](https://example.org) first. Then come.") == "Read our notes first."
    assert summary("A line\nthat wraps. Next.") == "A line that wraps."


def test_summary_does_not_stop_at_abbreviations_or_initials():
    assert summary("Libraries in the U.S. and abroad meet here. More.") == \
        "Libraries in the U.S. and abroad meet here."
    assert summary("Tools, e.g. OpenRefine, and more. Next.") == "Tools, e.g. OpenRefine, and more."


def test_summary_skips_headings_and_cuts_long_sentences_at_a_word():
    assert summary("## About us\n\nWe meet monthly. Join us.") == "We meet monthly."
    assert summary("An inclusive group designed to facilitate growth in the communities", limit=60) == \
        "An inclusive group designed to facilitate growth…"
    long = "word " * 100
    cut = summary(long)
    assert len(cut) <= SUMMARY_MAX and cut.endswith("…") and not cut.endswith(" …") and "wor…" not in cut


@pytest.mark.parametrize("text", ["", None, "   ", "## Only a heading", "- \n"])
def test_summary_of_nothing_to_say_is_empty(text):
    assert summary(text) == ""


def test_summary_keeps_markup_as_text_for_the_template_to_escape():
    assert summary("<b>Bold</b> claims. More.") == "<b>Bold</b> claims."


# --- the pages -------------------------------------------------------------------------------------------

def test_one_seat_left_of_one_reads_singular_and_two_plural(client, session):
    create_event(slug="one-seat", capacity=1)
    create_event(slug="two-seats", capacity=2)
    db.session.commit()
    one = client.get("/events/one-seat").get_data(as_text=True)
    assert "1 of 1 seat left" in one and "1 of 1 seats" not in one
    assert "2 of 2 seats left" in client.get("/events/two-seats").get_data(as_text=True)
    listing = client.get("/events").get_data(as_text=True)
    assert "1 of 1 seat left" in listing and "2 of 2 seats left" in listing


def test_groups_directory_counts_upcoming_events_singular_and_plural(client, session):
    one, two = create_group(name="One Event Group"), create_group(name="Two Events Group")
    create_event(one)
    create_event(two), create_event(two)
    db.session.commit()
    html = client.get("/groups").get_data(as_text=True)
    assert "1 upcoming event ·" in html and "2 upcoming events ·" in html


def test_groups_directory_shows_each_groups_first_sentence(client, session):
    create_group(name="Zine Librarians", description="For people who **collect** zines. We meet monthly.")
    create_group(name="Quiet Group", description="")
    create_group(name="Loud Group", description="<script>alert(1)</script> here.")
    db.session.commit()
    html = client.get("/groups").get_data(as_text=True)
    assert '<p class="group-summary">For people who collect zines.</p>' in html
    assert "We meet monthly" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; here." in html and "<script>alert" not in html
    assert html.count('class="group-summary"') == 2  # nothing to summarize, no empty line


def test_settings_of_one_read_singular(app, signed_in_client, session):
    app.config["SESSION_MAX_DAYS"] = 1
    member = create_user(email="ada@example.org")
    db.session.commit()
    html = signed_in_client(member).get("/account").get_data(as_text=True)
    assert "Each sign-in lasts at most 1 day." in html
