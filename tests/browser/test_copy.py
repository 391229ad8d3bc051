"""Browser: the words on the page say what is true (issue 18). Empty lists say "yet" unless a filter
emptied them, counts are singular and plural right, the groups directory says what each group is,
the seed data is honest about its dates and the Community Chat's promises, and "let the METRO team
know" is a link to the team. axe on every page."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import create_event
from webapp.db import utcnow
from webapp.display import SUMMARY_MAX, summary


def test_empty_lists_say_yet_and_match_only_after_a_search(live_server, session, page, problems):
    page.goto(live_server.url + "/events?when=past")
    results = page.locator("#event-results")
    expect(results.get_by_role("heading", level=2)).to_have_text("No past events yet.")
    expect(results).not_to_contain_text("match")
    expect(results).not_to_contain_text("Try fewer words")
    assert_accessible(page, "(past, empty)")
    results.get_by_role("link", name="upcoming events").click()
    expect(results.get_by_role("heading", level=2)).to_have_text("No upcoming events yet.")
    expect(results.get_by_role("link", name="browse the groups")).to_be_visible()
    assert_accessible(page, "(upcoming, empty)")

    # A search that empties the list says so, and how to widen it.
    page.get_by_label("Search").fill("zines")
    expect(results.get_by_role("heading", level=2)).to_have_text("No upcoming events match.")
    expect(results).to_contain_text("Try fewer words, another group, or past events.")
    assert_accessible(page, "(upcoming, no match)")


def test_one_seat_and_two_seats(live_server, session, page, problems):
    create_event(slug="one-seat", title="Tiny Round-table", capacity=1, starts_at=utcnow() + timedelta(days=2))
    create_event(slug="two-seats", title="Small Round-table", capacity=2, starts_at=utcnow() + timedelta(days=3))
    session.commit()
    page.goto(live_server.url + "/events")
    expect(page.get_by_role("heading", name="2 upcoming events")).to_be_visible()
    tiny = page.locator("article", has=page.get_by_role("link", name="Tiny Round-table"))
    small = page.locator("article", has=page.get_by_role("link", name="Small Round-table"))
    expect(tiny).to_contain_text("1 of 1 seat left")
    expect(small).to_contain_text("2 of 2 seats left")
    page.get_by_label("Search").fill("tiny")
    expect(page.get_by_role("heading", name="1 upcoming event matches")).to_be_visible()
    assert_accessible(page, "(one match)")
    page.goto(live_server.url + "/events/one-seat")
    expect(page.get_by_text("1 of 1 seat left", exact=True)).to_be_visible()
    expect(page.get_by_text("1 of 1 seats")).to_have_count(0)
    assert_accessible(page, "(one seat)")


def test_groups_directory_says_what_each_group_is_about(live_server, seeded, page, problems):
    page.goto(live_server.url + "/groups")
    for group in seeded["groups"]:
        card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=group["name"], exact=True))
        line = summary(group["description"])
        assert line and len(line) <= SUMMARY_MAX
        expect(card.locator(".group-summary")).to_have_text(line)
    code4lib = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Code4LibNYC"))
    expect(code4lib).to_contain_text("Open to all library staff interested in the coding, deployment, and design "
                                     "of library software, systems, and web services.")
    expect(code4lib).to_contain_text("Organizer: Esther Jackson")
    assert_accessible(page, "(groups directory)")


def test_seeded_events_dated_by_their_text_are_past_and_the_chat_keeps_its_promises(
        live_server, seeded, page, problems):
    page.goto(live_server.url + "/events")
    results = page.locator("#event-results")
    expect(results.get_by_role("link", name="METRO Community Chat")).to_have_count(2)  # every other week
    expect(results).not_to_contain_text("2020")
    expect(results).not_to_contain_text("Lockdown")
    page.get_by_role("link", name="Past", exact=True).click()
    expect(results.get_by_role("link", name="From Downturn to Downturn: Applying 2010 Lessons in 2020")).to_be_visible()
    expect(results.get_by_role("link", name="Scope Creep: Privacy During Lockdown")).to_be_visible()
    expect(results.locator("time").first).to_have_attribute("datetime", re.compile(r"^2020-"))
    assert_accessible(page, "(past events, seeded)")

    page.goto(live_server.url + "/events/metro-community-chat")
    prose = page.locator(".prose")
    expect(prose).not_to_contain_text("bi-weekly")
    expect(prose).to_contain_text("every other week")
    expect(prose.get_by_role("link", name="let the METRO team know")).to_have_attribute(
        "href", "mailto:meetups@metro.org")
    assert_accessible(page, "(community chat)")


def test_the_metro_team_is_a_link_away_on_every_page(live_server, seeded, page, problems):
    for path in ("/", "/events", "/groups", "/about"):
        page.goto(live_server.url + path)
        footer = page.get_by_role("contentinfo")
        expect(footer.get_by_role("link", name="meetups@metro.org")).to_have_attribute(
            "href", "mailto:meetups@metro.org")
    page.goto(live_server.url + "/groups")
    revive = page.get_by_text("If you would like to revive one")
    expect(revive.get_by_role("link", name="let the METRO team know")).to_have_attribute(
        "href", "mailto:meetups@metro.org")
    assert_accessible(page, "(groups, contact)")
