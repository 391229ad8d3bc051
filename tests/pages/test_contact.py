"""Copy that promises a way to reach the METRO team links to the CONTACT_EMAIL setting (issue 18)."""

from __future__ import annotations

from tests.factories import create_group
from tests.support.html import parse
from webapp.config import load_settings
from webapp.db import db


def mailto_links(html: str) -> list[str]:
    return [a["href"] for a in parse(html).find_all("a", href=True) if a["href"].startswith("mailto:")]


def test_contact_address_has_a_default_and_comes_from_the_environment(monkeypatch):
    assert load_settings()["CONTACT_EMAIL"] == "meetups@metro.org"
    monkeypatch.setenv("CONTACT_EMAIL", "team@metro.example")
    assert load_settings()["CONTACT_EMAIL"] == "team@metro.example"


def test_every_page_footer_links_to_the_contact_address(app, client, session):
    app.config["CONTACT_EMAIL"] = "team@metro.example"
    for path in ("/", "/about", "/events", "/no-such-page"):
        footer = str(parse(client.get(path).get_data(as_text=True)).find("footer"))
        assert mailto_links(footer) == ["mailto:team@metro.example"], path


def test_reviving_a_resting_group_links_to_the_metro_team(app, client, session):
    app.config["CONTACT_EMAIL"] = "team@metro.example"
    create_group(name="Resting Group", is_active=False)
    db.session.commit()
    main = str(parse(client.get("/groups").get_data(as_text=True)).find("main"))
    assert "let the METRO team know" in main and mailto_links(main) == ["mailto:team@metro.example"]
