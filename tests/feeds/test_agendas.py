"""The agenda in the subscription feeds: each event's DESCRIPTION carries the same agenda as its own
.ics, the feeds load every event's agenda in one query, and an agenda change raises the SEQUENCE and
changes the ETag, so a subscribed calendar refreshes instead of getting a stale 304."""

from __future__ import annotations

from datetime import timedelta

import pytest
import vobject
from sqlalchemy import update

from tests.factories import create_event, create_group, create_user
from tests.support.queries import count_queries
from webapp.db import utcnow
from webapp.events.models import Event
from webapp.feeds.private import private_calendar_secret
from webapp.registrations import services as registrations
from webapp.slots import services as slots


def vevents(response) -> dict[str, object]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    calendar = vobject.readOne(response.get_data(as_text=True))
    return {str(v.summary.value): v for v in getattr(calendar, "vevent_list", [])}


def event_with_talk(session, group, title: str, *, presenter: str = "Ada Presenter", talk: str = "Zines & <stacks>",
                    approve: bool = True, series=None):
    now = utcnow()
    starts = now + timedelta(days=4)
    event = create_event(group, title=title, starts_at=starts, ends_at=starts + timedelta(hours=1),
                         **({"series_id": series.id} if series else {}))
    member = create_user(display_name=presenter)
    registrations.register(session, event.id, member=member, now=now)
    offer = slots.offer_slots(session, event.id, label="15-minute talk", minutes="15", how_many="2", now=now)
    claim = slots.claim_slot(session, event.id, offer.id, member=member, title=talk, now=now)
    if approve:
        slots.approve(session, event.id, claim.id, now=now)
    session.commit()
    return event, member, claim


def own_ics(client, event) -> object:
    return vobject.readOne(client.get(f"/events/{event.slug}/calendar.ics").get_data(as_text=True)).vevent


def test_the_group_and_site_feeds_carry_the_same_agenda_as_the_events_own_file(client, session):
    group = create_group(slug="talks")
    event, _, _ = event_with_talk(session, group, "Talk night")
    event_with_talk(session, group, "Nothing approved", approve=False)
    single = own_ics(client, event)
    assert "Ada Presenter: Zines & <stacks>" in single.description.value
    for path in ("/groups/talks/calendar.ics", "/calendar.ics"):
        entries = vevents(client.get(path))
        assert entries["Talk night"].description.value == single.description.value
        assert entries["Talk night"].sequence.value == single.sequence.value == "1"
        assert "Agenda:" not in entries["Nothing approved"].description.value


def test_the_private_feed_carries_the_agenda_too(app, session):
    group = create_group()
    event, member, _ = event_with_talk(session, group, "My talk night")
    secret = private_calendar_secret(session, member, now=utcnow())
    session.commit()
    calendar_app = app.test_client(use_cookies=False)
    entry = vevents(calendar_app.get(f"/my/calendar/{secret}.ics"))["My talk night"]
    single = own_ics(calendar_app, event)
    assert "Ada Presenter: Zines & <stacks>" in entry.description.value
    assert entry.sequence.value == single.sequence.value


def test_the_series_feed_carries_each_sessions_agenda(client, session):
    from tests.series.helpers import series_fields
    from webapp.series import services as series_services

    group = create_group(slug="series-talks")
    series = series_services.create_series(session, group, series_fields(utcnow()), actor=None, now=utcnow())
    session.commit()
    first = series_services.sessions_of(session, series.id)[0]
    member = create_user(display_name="Bo Presenter")
    registrations.register(session, first.id, member=member, now=utcnow())
    offer = slots.offer_slots(session, first.id, label="Talk", minutes="10", how_many="1", now=utcnow())
    claim = slots.claim_slot(session, first.id, offer.id, member=member, title="Series talk", now=utcnow())
    session.commit()
    url = f"/series/{series.slug}/calendar.ics"
    before = client.get(url)
    assert "Series talk" not in before.get_data(as_text=True)
    slots.approve(session, first.id, claim.id, now=utcnow())
    session.commit()
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "Bo Presenter: Series talk" in after.get_data(as_text=True).replace("\r\n ", "")


def test_an_approval_changes_the_etag_and_raises_the_sequence(client, session):
    group = create_group(slug="fresh")
    event, member, claim = event_with_talk(session, group, "Fresh night", approve=False)
    first = client.get("/groups/fresh/calendar.ics")
    assert vevents(first)["Fresh night"].sequence.value == "0"
    assert client.get("/groups/fresh/calendar.ics", headers={"If-None-Match": first.headers["ETag"]}
                      ).status_code == 304
    slots.approve(session, event.id, claim.id, now=utcnow())
    session.commit()
    later = client.get("/groups/fresh/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert later.status_code == 200 and later.headers["ETag"] != first.headers["ETag"]
    entry = vevents(later)["Fresh night"]
    assert entry.sequence.value == "1" and "Ada Presenter: Zines & <stacks>" in entry.description.value


def test_the_etag_follows_the_agenda_even_within_one_clock_tick(client, session):
    """Two changes with one updated_at (a coarse clock, a fixed `now`): the agenda's own number still
    moves the ETag, so no client keeps the old agenda."""
    group = create_group(slug="tick")
    event, member, claim = event_with_talk(session, group, "Tick night", approve=False)
    stamped = session.get(Event, event.id).updated_at
    first = client.get("/groups/tick/calendar.ics")
    slots.approve(session, event.id, claim.id, now=utcnow())
    session.commit()
    session.execute(update(Event).where(Event.id == event.id).values(updated_at=stamped))
    session.commit()
    later = client.get("/groups/tick/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert later.status_code == 200 and "Zines & <stacks>" in later.get_data(as_text=True).replace("\r\n ", "")


@pytest.mark.parametrize("path", ["/groups/{slug}/calendar.ics", "/calendar.ics", "private"])
def test_a_feed_loads_every_agenda_in_one_query_whatever_the_number_of_events(app, session, path):
    group = create_group()
    reader = create_user()
    secret = private_calendar_secret(session, reader, now=utcnow())
    session.commit()
    url = f"/my/calendar/{secret}.ics" if path == "private" else path.format(slug=group.slug)
    calendar_app = app.test_client(use_cookies=False)

    def add(n: int) -> None:
        for i in range(n):
            event, _, _ = event_with_talk(session, group, f"Night {utcnow().timestamp()} {i}")
            registrations.register(session, event.id, member=reader, now=utcnow())
            session.commit()

    def statements() -> list[str]:
        app.extensions["pagecache"].clear()
        with count_queries() as seen:
            response = calendar_app.get(url)
        assert response.status_code == 200
        return [s for s in seen if "content_versions" not in s]

    add(2)
    few = statements()
    add(5)
    many = statements()
    assert len(many) == len(few), many
    assert sum("FROM slot_claims" in s for s in many) == 1, many
