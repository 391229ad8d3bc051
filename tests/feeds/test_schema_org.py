"""schema.org Event JSON-LD on event pages, parsed with json and checked field by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup

from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.events import changes as event_changes
from webapp.events.models import EventStatus
from webapp.registrations import services as registrations

# The part of the schema.org vocabulary these pages use: for each type, the properties it may carry
# (its own and those it inherits, https://schema.org/<Type>), and the enumeration members allowed.
VOCABULARY = {
    "Event": {"name", "url", "description", "startDate", "endDate", "eventAttendanceMode", "eventStatus",
              "location", "organizer", "offers", "isAccessibleForFree", "previousStartDate", "image"},
    "VirtualLocation": {"url", "name"},
    "Place": {"name", "address", "url"},
    "PostalAddress": {"streetAddress", "addressLocality", "addressRegion", "postalCode", "addressCountry"},
    "Organization": {"name", "url"},
    "Offer": {"price", "priceCurrency", "availability", "url", "validFrom"},
}
ENUMERATIONS = {
    "eventAttendanceMode": {"OnlineEventAttendanceMode", "OfflineEventAttendanceMode", "MixedEventAttendanceMode"},
    "eventStatus": {"EventScheduled", "EventCancelled", "EventRescheduled", "EventPostponed", "EventMovedOnline"},
    "availability": {"InStock", "SoldOut", "LimitedAvailability", "PreOrder"},
}


def check_vocabulary(node: dict, expected_type: str = "Event") -> None:
    """Every type and property is one schema.org defines, every enumeration value one of its members."""
    assert node["@type"] == expected_type
    unknown = set(node) - VOCABULARY[expected_type] - {"@type", "@context"}
    assert not unknown, f"not schema.org properties of {expected_type}: {unknown}"
    for key, value in node.items():
        if key in ENUMERATIONS:
            assert value.startswith("https://schema.org/") and value.rpartition("/")[2] in ENUMERATIONS[key], value
        if isinstance(value, dict):
            check_vocabulary(value, value["@type"])


def json_ld(client, slug: str) -> dict:
    html = client.get(f"/events/{slug}").get_data(as_text=True)
    scripts = BeautifulSoup(html, "html.parser").head.select('script[type="application/ld+json"]')
    assert len(scripts) == 1
    data = json.loads(scripts[0].string)
    assert data["@context"] == "https://schema.org"
    check_vocabulary(data)
    return data


def test_online_event(client, session, app):
    group = create_group(slug="web-archiving", name="Web Archiving")
    starts = datetime(2099, 7, 1, 22, tzinfo=UTC)  # 6 PM in New York, summer time
    create_event(group, slug="crawl", title="Crawl Night", summary="Bring a laptop.", starts_at=starts,
                 ends_at=starts + timedelta(hours=2), capacity=10, meeting_url="https://zoom.us/j/555444333")
    session.commit()
    site = app.config["SITE_URL"]

    data = json_ld(client, "crawl")

    assert data["name"] == "Crawl Night"
    assert data["description"] == "Bring a laptop."
    assert data["url"] == f"{site}/events/crawl"
    assert data["startDate"] == "2099-07-01T18:00:00-04:00"
    assert data["endDate"] == "2099-07-01T20:00:00-04:00"
    assert data["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    assert data["eventStatus"] == "https://schema.org/EventScheduled"
    assert data["location"] == {"@type": "VirtualLocation", "url": f"{site}/events/crawl"}
    assert data["organizer"] == {"@type": "Organization", "name": "Web Archiving",
                                 "url": f"{site}/groups/web-archiving"}
    assert data["offers"] == {"@type": "Offer", "price": 0, "priceCurrency": "USD", "url": f"{site}/events/crawl",
                              "availability": "https://schema.org/InStock"}
    assert "zoom.us" not in json.dumps(data)


def test_in_person_event_in_winter_hosted_by_metro(client, session, app):
    starts = datetime(2099, 12, 10, 23, tzinfo=UTC)
    create_event(None, slug="rack", is_online=False, venue_name="METRO", meeting_url=None, starts_at=starts,
                 venue_address="METRO, 599 Eleventh Avenue, 8th Floor, New York, NY 10036")
    session.commit()
    data = json_ld(client, "rack")
    assert data["startDate"] == "2099-12-10T18:00:00-05:00"
    assert data["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert data["location"] == {"@type": "Place", "name": "METRO", "address": {
        "@type": "PostalAddress", "streetAddress": "599 Eleventh Avenue, 8th Floor, New York, NY 10036"}}
    assert data["organizer"]["name"] == "METRO"


def test_offers_follow_the_live_seat_count(client, session):
    event = create_event(slug="small", capacity=1)
    session.commit()
    assert json_ld(client, "small")["offers"]["availability"] == "https://schema.org/InStock"
    registrations.register(session, event.id, member=create_user(), now=utcnow())
    session.commit()
    assert json_ld(client, "small")["offers"]["availability"] == "https://schema.org/SoldOut"


def test_cancelled_event(client, session):
    create_event(slug="off", status=EventStatus.CANCELLED)
    session.commit()
    data = json_ld(client, "off")
    assert data["eventStatus"] == "https://schema.org/EventCancelled"
    assert "offers" not in data


def test_a_moved_event_is_rescheduled_a_new_place_is_not(client, session):
    now = utcnow()
    event = create_event(slug="moved", starts_at=now + timedelta(days=5), capacity=5)
    registrations.register(session, event.id, member=create_user(), now=now)
    event_changes.change_event(session, event.id, place=None, now=now)  # nothing changed: still scheduled
    session.commit()
    assert json_ld(client, "moved")["eventStatus"] == "https://schema.org/EventScheduled"
    new_start = now + timedelta(days=6)
    event_changes.reschedule_event(session, event.id, new_start, new_start + timedelta(hours=1), now=now)
    session.commit()
    assert json_ld(client, "moved")["eventStatus"] == "https://schema.org/EventRescheduled"


@pytest.mark.parametrize("title", ['</script><script>alert(1)</script>', "</SCRIPT >x", "<!-- x", "a & b \u2028 東京"])
def test_a_title_cannot_break_out_of_the_script(client, session, title):
    create_event(slug="xss", title=title, summary="<b>bold</b> & </script>")
    session.commit()
    html = client.get("/events/xss").get_data(as_text=True)
    script = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script and ">" not in script
    data = json_ld(client, "xss")
    assert data["name"] == title and data["description"] == "<b>bold</b> & </script>"


def test_a_drafts_preview_carries_none(signed_in_client, session):
    group = create_group()
    organizer = organizer_of(group)
    create_event(group, slug="draft", title="Not yet", status=EventStatus.DRAFT)
    session.commit()
    preview = signed_in_client(organizer).get("/events/draft")
    assert preview.status_code == 200 and "Not yet" in preview.get_data(as_text=True)
    assert "application/ld+json" not in preview.get_data(as_text=True)
