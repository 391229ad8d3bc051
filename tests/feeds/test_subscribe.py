"""The Subscribe links of a group page and of the events page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup

from tests.factories import create_group


def subscribe_links(html: str) -> dict[str, str]:
    box = BeautifulSoup(html, "html.parser").select_one("section.feed-subscribe")
    assert box is not None, "no Subscribe box"
    return {a.get_text(strip=True): a["href"] for a in box.select("a")}


def test_group_page_subscribes_to_the_group_calendar(client, session, app):
    create_group(slug="web-archiving", name="Web Archiving & Co")
    session.commit()
    site = urlsplit(app.config["SITE_URL"])
    feed = f"{site.scheme}://{site.netloc}/groups/web-archiving/calendar.ics"
    webcal = f"webcal://{site.netloc}/groups/web-archiving/calendar.ics"

    links = subscribe_links(client.get("/groups/web-archiving").get_data(as_text=True))

    assert links["Apple Calendar and other apps"] == webcal
    google = urlsplit(links["Google Calendar"])
    assert (google.netloc, google.path) == ("calendar.google.com", "/calendar/r")
    assert parse_qs(google.query) == {"cid": [webcal]}
    outlook = urlsplit(links["Outlook.com"])
    assert (outlook.netloc, outlook.path) == ("outlook.live.com", "/calendar/0/addfromweb")
    assert parse_qs(outlook.query) == {"url": [feed], "name": ["Web Archiving & Co · METRO Meetups"]}
    assert links[feed] == feed  # the plain address, to paste anywhere
    assert client.get(urlsplit(feed).path).status_code == 200


def test_events_page_subscribes_to_the_site_calendar(client, session, app):
    site = urlsplit(app.config["SITE_URL"])
    for path in ("/events", "/events?when=past"):
        links = subscribe_links(client.get(path).get_data(as_text=True))
        assert links["Apple Calendar and other apps"] == f"webcal://{site.netloc}/calendar.ics"
        assert parse_qs(urlsplit(links["Outlook.com"]).query)["name"] == ["METRO Meetups"]


def test_a_filter_fragment_does_not_repeat_the_box(client, session):
    html = client.get("/events?q=x", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "feed-subscribe" not in html
