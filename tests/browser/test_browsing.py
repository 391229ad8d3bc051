"""A member browses: home → filter events as they type → event page → group page; axe everywhere."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible


def _upcoming(**where) -> int:
    """How many seeded events are upcoming (the Book Club is a series: its #5 and the monthly
    sessions after it, as many as the horizon holds today)."""
    from sqlalchemy import func, select

    from webapp.db import db, utcnow
    from webapp.events.models import Event, EventStatus
    from webapp.groups.models import Group
    query = select(func.count(Event.id)).where(Event.status == EventStatus.SCHEDULED, Event.starts_at > utcnow())
    if "title" in where:
        query = query.where(Event.title.ilike(f"%{where['title']}%"))
    if "group" in where:
        query = query.join(Group, Group.id == Event.group_id).where(Group.slug == where["group"])
    return db.session.scalar(query)


def test_home_to_events_to_event_to_group(live_server, seeded, page, problems):
    book_club = next(e for e in seeded["events"] if e["capacity"] == 20)
    group = next(g for g in seeded["groups"] if g["slug"] == book_club["group"])

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    soonest = min((e for e in seeded["events"] if "days_from_now" in e), key=lambda e: e["days_from_now"])
    expect(page.get_by_role("link", name=soonest["title"]).first).to_be_visible()
    assert_accessible(page, "(home)")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    expect(page).to_have_url(re.compile(r"/events$"))
    assert_accessible(page, "(events)")

    # Typing filters the list through htmx, without a page load, and the URL follows.
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Search").fill("book club")
    expect(page).to_have_url(re.compile(r"/events\?q=book\+club$"))
    results = page.locator("#event-results")
    expect(results.get_by_role("link", name=book_club["title"])).to_be_visible()
    expect(results.locator("article")).to_have_count(_upcoming(title="book club"))
    assert page.evaluate("window.__sameDocument") is True
    assert_accessible(page, "(events filtered)")

    results.get_by_role("link", name=book_club["title"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(book_club["title"])
    expect(page.get_by_text("20 of 20 seats left", exact=True)).to_be_visible()
    assert book_club["meeting_url"] not in page.content()
    assert_accessible(page, "(event page)")

    page.get_by_role("main").get_by_role("link", name=group["name"]).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(group["name"])
    expect(page.get_by_text(group["organizers"][0]["name"])).to_be_visible()
    assert_accessible(page, "(group page)")


def test_a_shared_filter_url_opens_the_same_results(live_server, seeded, page, problems):
    page.goto(live_server.url + "/events?format=in-person")
    expect(page.get_by_label("Format")).to_have_value("in-person")
    cards = page.locator("#event-results article")
    expect(cards.first).to_be_visible()
    for text in cards.all_inner_texts():
        assert "In person" in text


def test_back_button_restores_previous_results(live_server, seeded, page, problems):
    page.goto(live_server.url + "/events")
    total = page.locator("#event-results article").count()
    page.get_by_label("Search").fill("zzzz-nothing-matches")
    expect(page.locator("#results-count")).to_contain_text("No upcoming events match")
    page.go_back()
    expect(page.locator("#event-results article")).to_have_count(total)


def test_group_filter_and_load_more(app, live_server, seeded, page, problems):
    app.config["EVENTS_PAGE_SIZE"] = 3
    page.goto(live_server.url + "/events")
    expect(page.locator("#event-results article")).to_have_count(3)
    page.get_by_role("link", name="Load more events").click()
    expect(page.locator("#event-results article")).to_have_count(6)
    expect(page).to_have_url(re.compile(r"/events$"))
    page.get_by_role("link", name="Load more events").click()
    expect(page.locator("#event-results article")).to_have_count(_upcoming())  # the rest were held in 2020
    expect(page.get_by_role("link", name="Load more events")).to_have_count(0)

    page.get_by_label("Group").select_option(label="Prison Library Support Network")
    expect(page).to_have_url(re.compile(r"group=prison-library-support-network"))
    expect(page.locator("#event-results article")).to_have_count(_upcoming(group="prison-library-support-network"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_is_accessible(live_server, seeded, browser, scheme):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    event, group = seeded["events"][0], seeded["groups"][0]
    for path in ["/", "/events", "/events?when=past", f"/events/{event['slug']}", "/groups",
                 f"/groups/{group['slug']}", "/about", "/no-such-page", "/dev/mail",
                 "/events?start=nonsense"]:
        page.goto(live_server.url + path)
        assert_accessible(page, f"({scheme})")
    context.close()


def test_works_without_javascript(live_server, seeded, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/events")
    page.get_by_label("Search").fill("book club")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=book\+club"))
    expect(page.locator("#event-results article")).to_have_count(_upcoming(title="book club"))
    context.close()


def test_keyboard_user_can_skip_to_content_and_sees_focus(live_server, seeded, page, problems):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused_in_main = page.evaluate("document.activeElement.closest('main') !== null")
    assert focused_in_main
