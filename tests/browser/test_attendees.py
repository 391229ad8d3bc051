"""Browser: issue 12's journey. An organizer creates an event, a member registers in another browser,
the organizer sees them, searches the list, and checks them in on a phone; then gives a seat by hand,
removes someone, writes to attendees, and sees attendance afterwards. axe on every state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import PageProblems, assert_accessible, sign_in
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.events.models import Event
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def people(session):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    ada = create_user(email="ada@example.org", display_name="Ada Lovelace", institution="Queens Library")
    ben = create_user(email="ben@example.org", display_name="Ben Franklin", institution="Brooklyn Public Library")
    session.commit()
    return dict(group=group, ada=ada, ben=ben)


def the_event(session) -> Event:
    session.rollback()  # see what the server committed
    return session.scalar(select(Event).where(Event.slug == "linked-data-round-table"))


def test_organizer_runs_the_attendee_list_from_creation_to_check_in(
        live_server, session, people, page, browser, problems):
    # The organizer creates the event through the form.
    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/groups/metadata")
    page.get_by_role("link", name="New event").click()
    page.get_by_label("Title").fill("Linked Data Round-table")
    page.get_by_label("Starts").fill("2031-07-01T18:00")
    page.get_by_label("Ends").fill("2031-07-01T19:30")
    page.get_by_label("Capacity").fill("1")
    page.get_by_role("button", name="Save and preview").click()
    expect(page.get_by_role("heading", name="Linked Data Round-table")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published.")).to_be_visible()
    page.get_by_role("link", name="Attendees").click()
    expect(page.get_by_role("heading", name="Attendees: Linked Data Round-table")).to_be_visible()
    expect(page.get_by_text("Nobody yet.")).to_be_visible()
    assert_accessible(page, "(attendee list, empty)")
    attendees_url = page.url

    # A member registers through the real page, in a browser of their own.
    member_context = browser.new_context()
    member_page = member_context.new_page()
    member_problems = PageProblems(member_page)
    sign_in(member_page, live_server, session, "ada@example.org")
    member_page.goto(live_server.url + "/events/linked-data-round-table")
    member_page.get_by_label("Accessibility needs or accommodations").fill("Captions, please")
    member_page.get_by_role("button", name="Register").click()
    expect(member_page.locator("#registration-panel")).to_contain_text("You’re registered.")
    member_problems.assert_none()
    member_context.close()
    # Ben comes later and waits in line.
    registrations.register(session, the_event(session).id, member=people["ben"], now=utcnow())
    session.commit()

    # The organizer sees them.
    page.reload()
    confirmed = page.locator("tr", has=page.get_by_role("rowheader", name=re.compile("Ada Lovelace")))
    expect(confirmed).to_contain_text("Queens Library")
    expect(confirmed).to_contain_text("Captions, please")
    expect(confirmed).to_contain_text("Not yet")  # no reminder: the event is years away
    expect(page.get_by_text("0 of 1 checked in")).to_be_visible()
    expect(page.get_by_role("button", name="Give a seat (capacity 1 → 2) to Ben Franklin")).to_be_visible()
    assert_accessible(page, "(attendee list)")

    # Search, in place: the address keeps it.
    page.get_by_label("Search by name, institution or email").fill("brooklyn")
    expect(page.get_by_role("rowheader", name=re.compile("Ada Lovelace"))).to_have_count(0)
    expect(page.get_by_role("rowheader", name=re.compile("Ben Franklin"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?q=brooklyn$"))
    assert_accessible(page, "(search)")
    page.get_by_label("Search by name, institution or email").fill("nobody-here")
    expect(page.get_by_text("Nobody’s name, institution or email contains “nobody-here”.")).to_be_visible()
    assert_accessible(page, "(search, no match)")
    page.get_by_label("Search by name, institution or email").fill("")
    expect(page.get_by_role("rowheader", name=re.compile("Ada Lovelace"))).to_be_visible()

    # At the door, on a phone: one big button per person, pressed once checked in.
    page.set_viewport_size(PHONE)
    check_in = page.get_by_role("button", name="Checked in Ada Lovelace")
    expect(check_in).to_have_attribute("aria-pressed", "false")
    box = check_in.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "the button needs no sideways scrolling"
    # Wide tables scroll inside their own box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page, "(phone, before check-in)")
    check_in.click()
    expect(check_in).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_text("1 of 1 checked in")).to_be_visible()
    expect(check_in).to_be_focused()  # the list was swapped; the keyboard user stays put
    assert_accessible(page, "(phone, checked in)")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Ben gets a seat by hand, which raises the capacity; then Ada is removed.
    page.get_by_role("button", name="Give a seat (capacity 1 → 2) to Ben Franklin").click()
    expect(page.get_by_text("Ben Franklin got a seat and was emailed. The capacity is now 2.")).to_be_visible()
    assert the_event(session).capacity == 2
    assert_accessible(page, "(seat given)")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove Ada Lovelace").click()
    expect(page.get_by_text("Ada Lovelace was removed and emailed.")).to_be_visible()
    expect(page.locator("tr", has=page.get_by_role("rowheader", name=re.compile("Ada Lovelace")))
           ).to_contain_text("Removed by Olga Organizer")
    assert_accessible(page, "(removed)")

    # The page a browser without JavaScript asks on.
    page.goto(attendees_url + f"/{registration_id(session, people['ben'])}/remove")
    expect(page.get_by_role("heading", name="Remove Ben Franklin?")).to_be_visible()
    assert_accessible(page, "(remove: confirmation page)")
    page.get_by_role("link", name="Keep them").click()

    # A message to the confirmed attendees: mistakes first, then sent.
    page.get_by_role("link", name="Message attendees").click()
    expect(page.get_by_role("heading", name="Message attendees: Linked Data Round-table")).to_be_visible()
    assert_accessible(page, "(message form)")
    page.get_by_role("button", name="Send the message").click()
    expect(page.get_by_text("Please give the message a subject.")).to_be_visible()
    expect(page.get_by_label("Subject")).to_be_focused()
    assert_accessible(page, "(message form, errors)")
    page.get_by_label("Subject").fill("Room change")
    page.get_by_label("Message", exact=True).fill("We meet in room 204.\nBring a laptop.")
    page.get_by_role("button", name="Send the message").click()
    expect(page.get_by_text("Your message “Room change” is on its way to 1 confirmed attendee")).to_be_visible()
    expect(page.locator(".message-body")).to_have_text("We meet in room 204.\nBring a laptop.")
    assert_accessible(page, "(message sent)")

    # After the event: attendance.
    event = the_event(session)
    event.starts_at, event.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=1)
    session.commit()
    page.goto(attendees_url)
    expect(page.get_by_text("0 of 1 attended")).to_be_visible()
    expect(page.locator("tr", has=page.get_by_role("rowheader", name=re.compile("Ben Franklin")))
           ).to_contain_text("No-show")
    expect(page.get_by_role("link", name="Room change")).to_be_visible()
    assert_accessible(page, "(after the event)")


def registration_id(session, person) -> int:
    session.rollback()
    return session.scalar(select(Registration.id).where(Registration.user_id == person.id))


def organizer_opens_the_attendees(browser, live_server, session, people, event, **context_options):
    """Ada and Ben register for `event`; the organizer opens its attendee list in a browser context
    of its own (made with `context_options`). Returns the context and the page."""
    for person in (people["ada"], people["ben"]):
        registrations.register(session, event.id, member=person, now=utcnow())
    session.commit()
    context = browser.new_context(**context_options)
    page = context.new_page()
    sign_in(page, live_server, session, "org@example.org")
    page.goto(f"{live_server.url}/events/{event.slug}/attendees")
    return context, page


@pytest.mark.parametrize("scheme", ["dark"])
def test_checked_in_rows_read_well_in_the_dark_too(live_server, session, people, browser, scheme):
    event = create_event(people["group"], slug="dark-event", capacity=2)
    context, page = organizer_opens_the_attendees(browser, live_server, session, people, event, color_scheme=scheme)
    page.get_by_role("button", name="Checked in Ada Lovelace").click()
    expect(page.get_by_role("button", name="Checked in Ada Lovelace")).to_have_attribute("aria-pressed", "true")
    assert_accessible(page, f"({scheme}, one checked in)")
    # The event starts while the page is open: a removal is refused, in place, saying why.
    event = session.get(Event, event.id)
    event.starts_at = utcnow() - timedelta(minutes=1)
    session.commit()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove Ben Franklin").click()
    expect(page.get_by_role("alert")).to_have_text("This event has started, so its attendees can no longer be changed.")
    expect(page.get_by_role("button", name="Remove Ben Franklin")).to_have_count(0)
    assert_accessible(page, f"({scheme}, refused)")
    context.close()


def test_search_check_in_and_remove_work_without_javascript(live_server, session, people, browser):
    event = create_event(people["group"], slug="no-script", title="No Script Night", capacity=1)
    context, page = organizer_opens_the_attendees(browser, live_server, session, people, event,
                                                  java_script_enabled=False)

    page.get_by_label("Search by name, institution or email").fill("queens")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/events/no-script/attendees\?q=queens$"))
    expect(page.get_by_role("rowheader", name=re.compile("Ben Franklin"))).to_have_count(0)

    page.get_by_role("button", name="Checked in Ada Lovelace").click()
    expect(page).to_have_url(re.compile(r"\?q=queens#registration-\d+$"))
    expect(page.get_by_role("button", name="Checked in Ada Lovelace")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Remove Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Remove Ada Lovelace?")).to_be_visible()
    page.get_by_role("button", name="Remove Ada Lovelace and email them").click()
    expect(page.get_by_text("Ada Lovelace was removed and emailed. Ben Franklin got the freed seat")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?q=queens&done=removed"))
    context.close()
