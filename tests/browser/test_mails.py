"""Mails as a mail client shows them: the HTML part opened in Chromium at a 700 px reading pane and
a 390 px phone, with no site around it (no stylesheet, no CSP: only the mail's own inline styles)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import create_event, create_user
from tests.mail.test_golden import CASES, _message
from tests.support.outbox import as_sent
from webapp.db import db, utcnow
from webapp.outbox.templated import render_mail
from webapp.registrations import services as registrations
from webapp.reminders import services as reminders

AXE = Path(__file__).resolve().parents[2] / "static/vendor/axe.min.js"
WIDTHS = (700, 390)  # a desktop client's reading pane, a phone


def open_mail(page, html: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.set_content(html)


def assert_mail_accessible(page, context: str) -> None:
    page.add_script_tag(path=str(AXE))  # about:blank has no server to load it from
    assert_accessible(page, context)


def assert_no_sideways_scroll(page, context: str) -> None:
    widths = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert widths[0] <= widths[1], f"{context}: the mail is {widths[0]} px wide in {widths[1]} px"


def test_the_reminder_shows_join_the_meeting_as_a_button_at_700_and_390_px(app, page, problems):
    now = utcnow()
    event = create_event(title="PLSN Book Club", starts_at=now + timedelta(hours=20))
    registrations.register(db.session, event.id, member=create_user(display_name="Ada"), now=now - timedelta(days=2))
    [mail] = map(as_sent, reminders.queue_due_reminders(db.session, now=now))
    assert mail.subject.endswith(": PLSN Book Club") and mail.subject.split()[0] in ("Today", "Tomorrow")

    for width in WIDTHS:
        open_mail(page, mail.body_html, width)
        button = page.get_by_role("link", name="Join the meeting")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        # A button, not a word in a sentence: filled, padded and tall enough to tap.
        looks = button.evaluate("""b => { const s = getComputedStyle(b);
            return {background: s.backgroundColor, color: s.color, padding: parseFloat(s.paddingTop),
                    display: s.display}; }""")
        assert looks == {"background": "rgb(29, 79, 145)", "color": "rgb(255, 255, 255)", "padding": 10,
                         "display": "inline-block"}
        assert box["height"] >= 40
        expect(page.get_by_role("link", name="My events")).to_be_visible()
        assert_no_sideways_scroll(page, f"reminder at {width} px")
        assert_mail_accessible(page, f"(reminder mail at {width} px)")


def _with_a_long_url():
    """An organizer's message with a pasted URL and no spaces: it must wrap, not widen the mail."""
    kind, context = _message()
    context["message"].body = "Slides: https://example.org/slides?id=" + "0123456789abcdef" * 12
    return kind, context


def test_every_mail_fits_a_reading_pane_and_a_phone(app, page, problems):
    # One page for all of them (a browser page per mail would cost more than the checks).
    for name in [*sorted(CASES), "event_message.long_url"]:
        kind, context = _with_a_long_url() if name == "event_message.long_url" else CASES[name]()
        html = render_mail(kind, context).html
        for width in WIDTHS:
            open_mail(page, html, width)
            assert_no_sideways_scroll(page, f"{name} at {width} px")
        assert_mail_accessible(page, f"({name} at 390 px)")
