"""Browser tests: Playwright driving Debian's Chromium against a live server.

pytest-playwright looks for a browser it downloaded itself; it cannot download one here, so the
launch arguments point it at Debian's Chromium, the real binary (/usr/bin/chromium is a wrapper that
adds flags): the browser our members use. (Its headless shell would cost about a quarter less CPU
per test, docs/benchmarks.md, but it is not the browser people run.)
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from webapp.db import db
from webapp.display import site_zone
from webapp.seed import seed

CHROMIUM = "/usr/lib/chromium/chromium"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
        ],
    }


@pytest.fixture
def seeded(app):
    zone = site_zone()
    seed(db.session, today=datetime.now(zone).date(), zone=zone)
    db.session.commit()
    return json.loads((Path(__file__).resolve().parents[2] / "webapp/seed/meetups.json").read_text())


class PageProblems:
    """Console errors and CSP violations seen by a page; any of them fails the test."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.messages.append(f"page error: {exc}"))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
        )

    def _on_console(self, message):
        if message.type == "error" or "Content Security Policy" in message.text:
            self.messages.append(message.text)

    def assert_none(self):
        assert self.messages == [], "console errors or CSP violations:\n" + "\n".join(self.messages)


@pytest.fixture
def problems(page):
    tracker = PageProblems(page)
    yield tracker
    tracker.assert_none()


def assert_accessible(page, context: str = ""):
    """Run axe-core in the page; any violation fails with what and where."""
    # Served by the site itself, so the page's CSP (script-src 'self') allows it.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe.min.js")
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.html)}))"""
    )
    assert violations == [], f"axe violations on {page.url} {context}:\n" + json.dumps(violations, indent=1)


def emailed_link_path(session) -> str:
    """The link in the newest sign-in mail, read from its outbox row (no worker needed)."""
    from sqlalchemy import select

    from webapp.outbox.models import OutboxMail

    session.rollback()  # see what the server has committed since
    mail = session.scalars(
        select(OutboxMail).where(OutboxMail.kind == "sign_in").order_by(OutboxMail.id.desc())
    ).first()
    return re.search(r"http://meetups\.test(/sign-in/\S+)", mail.body_text).group(1)


def sign_in_by_mail(page, base_url: str, session, email: str) -> None:
    """From an open sign-in form: ask for a link, wait for the answer, follow it, press Sign in."""
    from playwright.sync_api import expect

    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    # Only once the answer is shown is the new link in the outbox.
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.goto(base_url + emailed_link_path(session))
    page.get_by_role("button", name="Sign in").click()


def sign_in(page, server, session, email: str) -> None:
    """Open the sign-in page and sign in by mail."""
    page.goto(server.url + "/sign-in")
    sign_in_by_mail(page, server.url, session, email)


def sign_out(page) -> None:
    """Sign out from the main menu and wait until it offers to sign in again."""
    from playwright.sync_api import expect

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Sign out").click()
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()


def signed_in_cookie(page, app, server, user) -> None:
    """Sign the browser in as `user` without the mail round trip, for tests about what comes after
    signing in: an open session row and its cookie, as a used sign-in link leaves them."""
    from tests.conftest import sign_in_as

    client = sign_in_as(app.test_client(), user)
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                               "url": server.url}])


def hand_over(page, server, session, email: str) -> None:
    """The next person takes the same browser: sign out, then sign in as `email`."""
    sign_out(page)
    sign_in(page, server, session, email)


def accept_mailed_invitation(page, server, session, mail, *, group_name: str, display_name: str) -> None:
    """Signed out, the invitee follows the link in `mail`, signs in with its address, names themselves
    and is an organizer of `group_name`; both pages axe-checked."""
    from playwright.sync_api import expect

    page.goto(server.url + re.search(r"http://meetups\.test(/invitations/\S+)", mail.body_text).group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Co-organize {group_name}")
    assert_accessible(page, "(invitation, signed out)")
    page.get_by_role("link", name="Sign in to accept").click()
    sign_in_by_mail(page, server.url, session, mail.recipient)
    page.get_by_label("Display name").fill(display_name)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_text("You’re an organizer of")).to_be_visible()
    assert_accessible(page, "(invitation accepted)")
