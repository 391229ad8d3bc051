"""The staff's Zoom tasks page in a real browser: reachable from the outbox, axe-clean, its Retry works."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_event, create_group, create_user
from webapp.accounts.models import Role
from webapp.db import db, utcnow
from webapp.events.models import EventStatus
from webapp.organize.services import publish_event
from webapp.zoom import services as zoom
from webapp.zoom.models import IntentState, ZoomIntent


def test_the_zoom_tasks_page_shows_zooms_answer_and_retries_a_failed_task(app, live_server, page, problems,
                                                                          fake_zoom):
    event = create_event(create_group(), meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT)
    publish_event(db.session, event.id, actor=None, now=utcnow())
    staff = create_user(roles=[Role.STAFF])
    db.session.commit()
    app.config["ZOOM_CLIENT_SECRET"] = "revoked"  # Zoom refuses the token: the task fails for good
    zoom.sweep(db.session)
    app.config["ZOOM_CLIENT_SECRET"] = "fake-secret"
    signed_in_cookie(page, app, live_server, staff)

    page.goto(f"{live_server.url}/outbox")
    page.get_by_role("link", name="Zoom tasks").click()
    expect(page.get_by_role("heading", name="Zoom tasks", level=1)).to_be_visible()
    expect(page.get_by_text("Invalid client_id or client_secret")).to_be_visible()
    assert_accessible(page, "Zoom tasks, one failed")
    [intent] = db.session.query(ZoomIntent).all()
    page.get_by_role("button", name=f"Retry the create_meeting task {intent.id}").click()
    page.wait_for_url(f"{live_server.url}/outbox/zoom")
    expect(page.get_by_text("No failed tasks.")).to_be_visible()
    assert_accessible(page, "Zoom tasks, retried")
    zoom.sweep(db.session)
    db.session.expire_all()
    assert db.session.get(ZoomIntent, intent.id).state == IntentState.DONE
