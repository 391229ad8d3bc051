"""The whole journey with real parts: a live server, Redis, a Celery worker and an SMTP sink.

Signed out → Register → the sign-in link arrives by mail → registered → cancel → the next
person in line is promoted and mailed. The exact set of mails is checked: nothing missing,
nothing doubled.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import redis
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import create_event, create_group, create_user
from tests.support.worker import celery_worker
from webapp.db import db, utcnow
from webapp.registrations import services as registrations


@pytest.fixture
def app_overrides(redis_url, smtp_sink):
    redis.Redis.from_url(redis_url).flushdb()
    return {"REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port}


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def mails_to(smtp_sink, address):
    return [m for m in smtp_sink.messages if m["To"] == address]


def wait_for_mail(smtp_sink, address, subject_part, timeout=30):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in mails_to(smtp_sink, address):
            if subject_part in message["Subject"]:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no mail '{subject_part}' to {address}: {[m['Subject'] for m in smtp_sink.messages]}")


def test_register_by_mail_link_then_cancel_promotes_the_next_in_line(
    redis_url,
    app, migrated, tmp_path, live_server, smtp_sink, page, problems
):
    event = create_event(create_group(name="Prison Library Support Network"),
                         slug="book-club", title="PLSN Book Club", capacity=1)
    waiting_member = create_user(email="bea@example.org", display_name="Bea")
    db.session.commit()
    env = {
        "DATABASE_URL": migrated, "REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port), "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(tmp_path),
    }
    with celery_worker(env):
        page.goto(f"{live_server.url}/events/book-club")
        # Signed out, the panel asks for the address (and a name) and mails the link at once.
        page.get_by_label("Email address").fill("ada@example.org")
        page.get_by_label("Your name").fill("Ada")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

        sign_in_mail = wait_for_mail(smtp_sink, "ada@example.org", "sign-in link")
        assert "finish registering for PLSN Book Club" in text_of(sign_in_mail)
        link = re.search(r"http://meetups\.test(/sign-in/\S+)", text_of(sign_in_mail)).group(1)
        page.goto(live_server.url + link)
        page.get_by_role("button", name="Sign in").click()

        # Back on the event, already registered: no second click.
        expect(page).to_have_url(f"{live_server.url}/events/book-club")
        panel = page.locator("#registration-panel")
        expect(panel).to_contain_text("You’re registered.")
        assert_accessible(page, "(registered)")
        confirmation = wait_for_mail(smtp_sink, "ada@example.org", "You’re registered")
        assert any(part.get_filename() == "invite.ics" for part in confirmation.iter_attachments())

        # Bea arrives later and waits in line.
        registrations.register(db.session, event.id, member=waiting_member, now=utcnow())
        db.session.commit()
        wait_for_mail(smtp_sink, "bea@example.org", "waitlist")

        panel.get_by_role("button", name="Cancel my registration").click()
        panel.get_by_role("button", name="Yes, cancel").click()
        expect(panel).to_contain_text("You cancelled your registration")
        assert_accessible(page, "(cancelled)")
        wait_for_mail(smtp_sink, "ada@example.org", "Registration cancelled")
        promoted = wait_for_mail(smtp_sink, "bea@example.org", "you’re in")
        assert "/r/" in text_of(promoted)

    subjects = Counter((m["To"], m["Subject"].split(":")[0]) for m in smtp_sink.messages)
    assert subjects == Counter({
        ("ada@example.org", sign_in_mail["Subject"].split(":")[0]): 1,
        ("ada@example.org", "You’re registered"): 1,
        ("ada@example.org", "Registration cancelled"): 1,
        ("bea@example.org", "You’re on the waitlist"): 1,
        ("bea@example.org", "A seat opened up, you’re in"): 1,
    })
