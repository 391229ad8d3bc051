"""Browser: a full event whose organizers release unconfirmed seats says so before Register; the
"Still coming?" sweep asks both seat holders and the outbox delivers to a real SMTP sink; one opens
"Free my seat" from her mail and presses its one button, and the person waiting is promoted (and
mailed); the other, signed in, answers "Yes, I'll be there" on the event page. Axe-checked in every state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_event, create_group, create_user
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.outbox.models import MailState
from webapp.outbox.services import send_outbox_mail
from webapp.registrations import services, still_coming
from webapp.registrations.models import AttendanceAnswer, RegistrationStatus


@pytest.fixture
def app_overrides(smtp_sink):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port}  # the outbox delivers by SMTP


def test_still_coming_mail_free_my_seat_promotes_the_next_person(live_server, app, session, page, problems,
                                                                 smtp_sink):
    now = utcnow()
    group = create_group(slug="abolition", name="Prison Abolition Book Club")
    event = create_event(group, slug="book-club", title="Book club: Are Prisons Obsolete?", capacity=2,
                         starts_at=now + timedelta(hours=48), is_releasing_unconfirmed_seats=True)
    ada, cy, ben = (create_user(email=f"{n}@example.org", display_name=n.title()) for n in ("ada", "cy", "ben"))
    for member in (ada, cy, ben):  # Ben waits
        services.register(session, event.id, member=member, now=now - timedelta(days=3))
    session.commit()

    page.goto(live_server.url + "/events/book-club")
    expect(page.locator("#release-note")).to_contain_text("“Still coming?” email")
    assert_accessible(page, "(event page, release unconfirmed seats on)")

    asked = still_coming.queue_due_still_coming(session, now=now)
    session.commit()
    assert sorted(m.recipient for m in asked) == ["ada@example.org", "cy@example.org"]
    ada_mail = next(m for m in asked if m.recipient == "ada@example.org")
    assert send_outbox_mail(session, ada_mail.id, now=now) == MailState.SENT
    [message] = smtp_sink.wait_for(1)
    assert message["Subject"] == "Still coming? Book club: Are Prisons Obsolete?"
    text = message.get_body(("plain",)).get_content()
    free = re.search(r"Free my seat for the next person waiting:\s+http://meetups\.test(/still-coming/\S+/free)", text)
    assert free, text

    page.goto(live_server.url + free.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Still coming?")
    assert_accessible(page, "(Free my seat, asking)")
    page.get_by_role("button", name="Free my seat").click()
    expect(page.get_by_role("status")).to_contain_text("Your seat went to the next person in line.")
    assert_accessible(page, "(Free my seat, done)")

    session.expire_all()
    assert services.registration_for(session, event.id, ben).status == RegistrationStatus.CONFIRMED
    assert services.registration_for(session, event.id, ada).attendance_answer == AttendanceAnswer.FREED
    assert [m.recipient for m in mails(session, kind="registration_promoted")] == ["ben@example.org"]

    # Cy answers from the event page, signed in.
    signed_in_cookie(page, app, live_server, cy)
    page.goto(live_server.url + "/events/book-club")
    panel = page.locator("#registration-panel")
    expect(panel).to_contain_text("Still coming?")
    assert_accessible(page, "(event page, Still coming? asked)")
    panel.get_by_role("button", name="Yes, I’ll be there").click()
    expect(panel.get_by_role("status").filter(has_text="coming")).to_have_text(
        "You told the organizers you’re coming.")
    expect(panel.get_by_role("button", name="Yes, I’ll be there")).to_have_count(0)
    assert_accessible(page, "(event page, answered yes)")
    session.expire_all()
    assert services.registration_for(session, event.id, cy).attendance_answer == AttendanceAnswer.YES
    problems.assert_none()


def test_a_released_member_says_yes_from_the_mail_and_reads_that_she_is_first_in_line(
        live_server, app, session, page, problems, smtp_sink, monkeypatch):
    # Release on; Dee and Eli asked three days ago, Dee's question delivered; the deadline has passed.
    now = utcnow()
    event = create_event(create_group(), slug="zine-night", title="Zine night", capacity=2,
                         starts_at=now + timedelta(hours=20), is_releasing_unconfirmed_seats=True)
    dee, eli, fay = (create_user(email=f"{n}@example.org", display_name=n.title()) for n in ("dee", "eli", "fay"))
    for member in (dee, eli, fay):  # Fay waits
        services.register(session, event.id, member=member, now=now - timedelta(days=5))
    session.commit()
    asked_at = now - timedelta(days=3)
    [question] = still_coming.queue_still_coming(session, [services.registration_for(session, event.id, dee)],
                                                 now=asked_at)
    session.commit()
    monkeypatch.setattr("webapp.outbox.services.utcnow", lambda: asked_at)
    assert send_outbox_mail(session, question.id, now=asked_at) == MailState.SENT
    release = services.release_unconfirmed_seats(session, event.id, now=now)
    session.commit()
    assert [r.user_id for r in release.released] == [dee.id]  # Eli was never asked: he keeps his seat
    [message] = smtp_sink.wait_for(1)
    yes = re.search(r"Yes, I'll be there:\s+http://meetups\.test(/still-coming/\S+/yes)",
                    message.get_body(("plain",)).get_content())

    page.goto(live_server.url + yes.group(1))
    expect(page.get_by_role("status")).to_contain_text("your seat went to someone who was waiting")
    assert_accessible(page, "(Still coming?, seat released)")
    page.get_by_role("button", name="Yes, I’ll be there").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Your seat had been released; you are first in line and will get the next free seat.")
    assert_accessible(page, "(Still coming?, yes after the release)")
    session.expire_all()
    assert services.registration_for(session, event.id, dee).status == RegistrationStatus.WAITLISTED
    assert services.registration_for(session, event.id, fay).status == RegistrationStatus.CONFIRMED
    problems.assert_none()
