"""Browser: on a developer's machine (debug mode, SITE_URL http://localhost:<port>), a page opened at
http://127.0.0.1:<port> is sent to localhost (webapp/security.py), so the session cookie and the
mailed links name the same host: signing in from the mail keeps the browser signed in."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.browser.conftest import assert_accessible
from tests.factories import create_user
from tests.support.servers import free_port
from webapp.outbox.models import OutboxMail

PORT = free_port()
SITE = f"http://localhost:{PORT}"
OTHER_NAME = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def app_overrides():
    return {"DEBUG": True, "SITE_URL": SITE}


@pytest.fixture
def dev_server(app):
    """The debug app served on the port SITE_URL names (the live_server fixture picks its own)."""
    server = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=5)


def mailed_sign_in_link(session) -> str:
    session.rollback()  # see what the server has committed
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "sign_in")
                           .order_by(OutboxMail.id.desc())).first()
    return re.search(rf"{re.escape(SITE)}/sign-in/\S+", mail.body_text).group(0)


def test_a_page_opened_at_127_0_0_1_lands_at_localhost(app, dev_server, page, problems):
    assert app.debug
    response = page.goto(OTHER_NAME + "/events?q=knit")
    assert response.request.redirected_from is not None
    assert response.request.redirected_from.url == OTHER_NAME + "/events?q=knit"
    assert response.request.redirected_from.response().status == 307
    expect(page).to_have_url(SITE + "/events?q=knit")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page, "(events, reached through 127.0.0.1)")


def test_signing_in_from_the_mail_keeps_the_session_started_at_127_0_0_1(app, dev_server, session, page, problems):
    create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    page.goto(OTHER_NAME + "/sign-in?next=/my/events")
    expect(page).to_have_url(SITE + "/sign-in?next=/my/events")
    page.get_by_label("Email address").fill("ada@example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    # The mail names SITE_URL's host, the one this browser's cookie belongs to.
    link = mailed_sign_in_link(session)
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(SITE + "/my/events")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="My account")).to_be_visible()

    # Back at the other name later (an old bookmark): still the same host, still signed in.
    page.goto(OTHER_NAME + "/account")
    expect(page).to_have_url(SITE + "/account")
    expect(page.get_by_label("Display name")).to_have_value("Ada Lovelace")
