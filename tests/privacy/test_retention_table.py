"""One retention table (webapp/privacy/retention.py): the settings, the README's table and the
privacy page say the same, and the attendee list and CSV say when each event's needs are erased."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.display import format_date
from webapp.privacy import sweeps
from webapp.privacy.retention import RETENTION
from webapp.registrations import services as registrations

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d+ (?:days?|hours?)) ", README.read_text(encoding="utf-8"), re.M))
    assert {rule.setting: rule.period() for rule in RETENTION}.items() <= rows.items()


def test_every_setting_is_read_from_the_environment(app):
    for rule in RETENTION:
        assert app.config[rule.setting] == rule.default


def test_the_privacy_page_says_the_configured_times_and_every_page_links_to_it(app, client):
    app.config["ACCESSIBILITY_NEEDS_RETENTION_DAYS"] = 7
    page = BeautifulSoup(client.get("/privacy").get_data(as_text=True), "html.parser")
    for rule in RETENTION:
        row = page.select_one(f"#kept-{rule.setting.lower()}")
        assert row is not None, rule.setting
        expected = "7 days" if rule.setting == "ACCESSIBILITY_NEEDS_RETENTION_DAYS" else rule.period()
        assert expected in row.get_text(), (rule.setting, row.get_text())
    home = BeautifulSoup(client.get("/").get_data(as_text=True), "html.parser")
    assert home.select_one("footer a[href='/privacy']") is not None


@pytest.fixture
def ended_event(session):
    group = create_group(slug="a11y")
    organizer = organizer_of(group, email="org@example.org")
    now = utcnow()
    event = create_event(group, slug="captions", capacity=None)
    member = create_user(display_name="Rae")
    registrations.register(session, event.id, member=member, accessibility_needs="Live captions", now=now)
    session.commit()
    return event, organizer


def test_attendee_list_and_csv_say_when_needs_are_erased_then_that_they_were(signed_in_client, session, ended_event):
    event, organizer = ended_event
    client = signed_in_client(organizer)
    due = event.ends_at + timedelta(days=30)
    page = BeautifulSoup(client.get("/events/captions/attendees").get_data(as_text=True), "html.parser")
    assert f"erases them on {format_date(due)}" in page.select_one("#needs-retention").get_text(" ", strip=True)
    assert "Live captions" in page.get_text()
    row = next(csv.DictReader(io.StringIO(client.get("/events/captions/attendees.csv").get_data(as_text=True))))
    assert row["Accessibility needs"] == "Live captions" and row["Needs erased on"]

    sweeps.erase_accessibility_needs(session, now=due + timedelta(minutes=1))
    session.commit()
    text = BeautifulSoup(client.get("/events/captions/attendees").get_data(as_text=True), "html.parser").get_text()
    assert "Live captions" not in text and "Given; erased" in text
    row = next(csv.DictReader(io.StringIO(client.get("/events/captions/attendees.csv").get_data(as_text=True))))
    assert row["Accessibility needs"] == "(given; erased)" and row["Needs erased on"]


def test_every_form_that_asks_for_personal_data_links_to_the_privacy_page(signed_in_client, client, session):
    from tests.factories import create_event, create_group, create_user

    group = create_group()
    create_event(group, slug="open-event", capacity=None)
    session.commit()

    def note(html):
        return [a for form in BeautifulSoup(html, "html.parser").select("main form")
                for a in form.select(".privacy-note a[href='/privacy']")]

    for url in ("/sign-in", "/events/open-event"):  # signed out: sign-in and Register (needs, address, name)
        assert note(client.get(url).get_data(as_text=True)), url
    signed = signed_in_client(create_user())
    for url in ("/account", "/proposals/new", "/events/open-event"):
        assert note(signed.get(url).get_data(as_text=True)), url
