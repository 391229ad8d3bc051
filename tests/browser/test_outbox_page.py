"""The staff outbox page in a real browser: readable, axe-clean, and its Retry button works."""

from __future__ import annotations

from datetime import timedelta

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_user
from webapp.accounts.models import Role
from webapp.db import db, utcnow
from webapp.outbox import services
from webapp.outbox.models import MailState, OutboxMail


def test_staff_outbox_page_is_accessible_and_retries_a_failed_mail(app, live_server, page, problems):
    failed = services.queue_mail(db.session, kind="reminder", dedup_key="b1", recipient="gone@example.org",
                                 subject="Reminder: Hack Night", body_text="x")
    failed.state, failed.last_error = MailState.FAILED, "gone@example.org: 550 5.1.1 No such user"
    services.queue_mail(db.session, kind="test", dedup_key="b2", recipient="a@example.org", subject="Waiting",
                        body_text="x", now=utcnow() - timedelta(minutes=15))
    staff = create_user(roles=[Role.STAFF])
    db.session.commit()
    signed_in_cookie(page, app, live_server, staff)

    page.goto(f"{live_server.url}/outbox")

    assert page.get_by_role("heading", name="Outbox").is_visible()
    assert page.get_by_role("alert").filter(has_text="Mail is stuck").is_visible()
    assert page.get_by_text("550 5.1.1 No such user").is_visible()
    assert_accessible(page, "outbox")
    page.get_by_role("button", name="Retry the mail to gone@example.org").click()
    page.wait_for_url(f"{live_server.url}/outbox")
    assert page.get_by_text("No failed mails.").is_visible()
    db.session.expire_all()
    assert db.session.get(OutboxMail, failed.id).state is not MailState.FAILED
