"""A new series and the followers of its group (issue 20): one mail for the whole series to those
who want each event, never one per session, never to its organizer, nothing on a rollback; the
sessions the sweep makes later mail no follower; and a digest lists a series' sessions of its
period as one entry, in the same number of queries however many sessions and events it holds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import create_cast, create_event, create_group, create_user
from tests.series.helpers import NY, series_fields
from tests.support.outbox import mails
from tests.support.queries import count_queries
from webapp.db import utcnow
from webapp.events.models import Event, EventStatus
from webapp.follows.models import EventPublication, FollowMail
from webapp.follows.services import follow_group, queue_digests, set_follow_mail_choice, tell_followers_of_new_series
from webapp.organize.services import publish_event
from webapp.series import services as series_services
from webapp.series.models import Series

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
SERIES_MAIL = "followed_group_series"


@pytest.fixture
def world(session):
    group = create_group(slug="metadata", name="Metadata & <Practitioners>")
    other = create_group(slug="archives", name="Archivists")
    people = create_cast(group, other)
    session.commit()
    return dict(group=group, other=other, **people)


def series_form(first_on) -> dict:
    return dict(title="Cataloging Clinic", description="Bring a record.", recurrence="biweekly", custom_rule="",
                first_on=first_on.isoformat(), start_time="18:00", length_minutes="60", end_kind="count",
                end_count="8", end_on="", meeting_format="online", meeting_url="https://zoom.us/j/42",
                venue_name="", venue_address="", venue_accessibility="", capacity="")


def test_a_new_series_mails_each_event_followers_once_as_a_series(app, signed_in_client, session, world):
    app.config["SERIES_HORIZON_DAYS"] = 60
    each, default, weekly, nothing, elsewhere = (create_user(email=f"{n}@example.org")
                                                 for n in ("each", "default", "weekly", "none", "elsewhere"))
    for member in (each, default, weekly, nothing, world["organizer"]):
        follow_group(session, world["group"].id, member=member, now=utcnow())
    follow_group(session, world["other"].id, member=elsewhere, now=utcnow())
    set_follow_mail_choice(session, each, FollowMail.EACH, now=utcnow())
    set_follow_mail_choice(session, weekly, FollowMail.WEEKLY, now=utcnow())
    set_follow_mail_choice(session, nothing, FollowMail.NONE, now=utcnow())
    session.commit()
    first_on = (utcnow().astimezone(NY) + timedelta(days=5)).date()

    answer = post_form(signed_in_client(world["organizer"]), "/groups/metadata/series/new", series_form(first_on))
    assert answer.status_code == 303 and answer.location.endswith("/series/cataloging-clinic")

    sent = mails(session, kind=SERIES_MAIL)
    # Never to the organizer who made it, though they follow the group; not to the digest readers.
    assert sorted(m.recipient for m in sent) == ["default@example.org", "each@example.org"]
    assert mails(session, kind="followed_group_event") == []  # not one per session
    mail = sent[0]
    day = f"{first_on:%A}"
    assert mail.subject == (f"New series from Metadata & <Practitioners>: Cataloging Clinic — every two weeks on "
                            f"{day} at 6 PM, from {first_on:%B} {first_on.day}, {first_on.year}, 8 sessions")
    assert "http://meetups.test/series/cataloging-clinic" in mail.body_text
    assert "See the series and register for all</a>" in mail.body_html
    sessions = list(session.scalars(select(Event).join(Series).where(Series.slug == "cataloging-clinic")
                                    .order_by(Event.starts_at)))
    assert len(sessions) == 4  # 60 days ahead; the sweep makes the other 4
    listed = re.findall(r"http://meetups\.test/events/\S+", mail.body_text)
    assert listed == [f"http://meetups.test/events/{e.slug}" for e in sessions[:3]]
    assert "and 5 more sessions" in mail.body_text  # 8 in all
    assert mail.event_id == sessions[0].id
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.headers["List-Unsubscribe"][1:-1] in mail.body_text

    # Told again (a retried create, a bug): the dedup key keeps it to one mail per follower.
    series = session.scalar(select(Series).where(Series.slug == "cataloging-clinic"))
    assert tell_followers_of_new_series(session, series, sessions, actor=world["organizer"], now=utcnow()) == 0
    session.commit()
    assert len(mails(session, kind=SERIES_MAIL)) == 2


def test_a_series_create_that_rolls_back_mails_nobody(app, session, world):
    follow_group(session, world["group"].id, member=world["member"], now=utcnow())
    session.commit()
    now = utcnow()
    series_services.create_series(session, world["group"], series_fields(now), actor=world["organizer"], now=now)
    session.rollback()
    assert mails(session) == []
    assert session.scalar(select(func.count(Series.id))) == 0


def test_the_sessions_the_sweep_makes_later_mail_no_follower(app, session, world):
    app.config["SERIES_HORIZON_DAYS"] = 20
    follow_group(session, world["group"].id, member=world["member"], now=utcnow())
    now = utcnow()
    series = series_services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    assert len(mails(session, kind=SERIES_MAIL)) == 1
    app.config["SERIES_HORIZON_DAYS"] = 200
    made = series_services.materialize_all(session, now=now + timedelta(hours=1))
    session.commit()
    assert made == 6 and len(series_services.sessions_of(session, series.id)) == 8
    assert len(mails(session, kind=SERIES_MAIL)) == 1
    assert mails(session, kind="followed_group_event") == []
    # Nor do the digests list them: what they list are the sessions made with the series.
    assert session.scalar(select(func.count()).select_from(EventPublication)) == 2


# --- digests ------------------------------------------------------------------------------------------

# A Wednesday noon in New York: last week is the week from Monday the 2nd (as tests/follows/test_digests.py).
NOW = datetime(2030, 12, 11, 17, 0, tzinfo=UTC)
JOINED = datetime(2030, 12, 1, 17, 0, tzinfo=UTC)


def _publish(session, group, slug, at):
    starts_at = at + timedelta(days=60)
    event = create_event(group, slug=slug, title=slug.title(), status=EventStatus.DRAFT, starts_at=starts_at,
                         ends_at=starts_at + timedelta(hours=1))
    session.flush()
    publish_event(session, event.id, actor=None, now=at)
    return event


@pytest.fixture
def weekly(session):
    member = create_user(email="weekly@example.org")
    maps = create_group(slug="maps", name="Map Curators")
    follow_group(session, maps.id, member=member, now=JOINED)
    set_follow_mail_choice(session, member, FollowMail.WEEKLY, now=JOINED)
    session.commit()
    return dict(member=member, maps=maps)


def test_a_weekly_digest_lists_a_series_as_one_entry_and_a_single_event_as_before(app, session, weekly):
    app.config["SERIES_HORIZON_DAYS"] = 60
    at = datetime(2030, 12, 4, 15, tzinfo=UTC)
    series = series_services.create_series(session, weekly["maps"], series_fields(at, title="Map Club"),
                                           actor=None, now=at)
    _publish(session, weekly["maps"], "atlas-night", datetime(2030, 12, 5, 15, tzinfo=UTC))
    session.commit()
    made = series_services.sessions_of(session, series.id)
    assert len(made) == 5 and made[0].starts_at < NOW

    assert queue_digests(session, FollowMail.WEEKLY, now=NOW) == 1
    session.commit()
    [digest] = mails(session, kind="followed_groups_digest", recipient="weekly@example.org")
    assert digest.subject == "Your weekly digest from the groups you follow: 1 new event and 1 new series"
    body = digest.body_text
    assert body.count("New series: Map Club") == 1
    # Its sessions of the week that are still ahead (the first one, on the 7th, is over).
    assert "When:  every two weeks on" in body and "4 new sessions ahead, the first on" in body
    assert "Series page (register for all): http://meetups.test/series/map-club" in body
    assert not any(f"/events/{e.slug}" in body for e in made)  # not eight lines: one entry
    assert "Atlas-Night" in body and "Event page: http://meetups.test/events/atlas-night" in body
    assert digest.body_html.count(">See the series and register for all</a>") == 1


def test_the_digest_query_count_does_not_grow_with_the_sessions_and_events_it_lists(app, session, weekly):
    """Last week: one series of 2 sessions. This week: two series of 5 sessions each and three events."""
    def statements_for(now) -> int:
        with count_queries() as statements:
            assert queue_digests(session, FollowMail.WEEKLY, now=now) == 1
        session.commit()
        return len(statements)

    app.config["SERIES_HORIZON_DAYS"] = 20
    at = datetime(2030, 12, 4, 15, tzinfo=UTC)
    series_services.create_series(session, weekly["maps"], series_fields(at, title="Small"), actor=None, now=at)
    session.commit()
    small = statements_for(NOW)

    app.config["SERIES_HORIZON_DAYS"] = 60
    at += timedelta(days=7)
    for title in ("Big", "Bigger"):
        series_services.create_series(session, weekly["maps"], series_fields(at, title=title), actor=None, now=at)
    for n in range(3):
        _publish(session, weekly["maps"], f"event-{n}", at + timedelta(hours=n))
    session.commit()
    big = statements_for(NOW + timedelta(days=7))

    [_, digest] = mails(session, kind="followed_groups_digest", recipient="weekly@example.org")
    assert digest.subject.endswith(": 3 new events and 2 new series")
    assert digest.body_text.count("4 new sessions ahead") == 2
    assert big == small
