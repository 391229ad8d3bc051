"""Daily and weekly digests: one mail per member and period listing every new event of the groups
they follow, exactly once however often the sweep runs; nothing for members with nothing new."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import create_event, create_group, create_user
from tests.support.outbox import mails
from tests.support.queries import count_queries
from webapp.events.models import EventStatus
from webapp.follows.models import FollowMail
from webapp.follows.services import digest_period, follow_group, queue_digests, set_follow_mail_choice
from webapp.organize.services import publish_event

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
# A Wednesday noon in New York: "yesterday" is Tuesday, "last week" the week from Monday the 2nd.
NOW = datetime(2030, 12, 11, 17, 0, tzinfo=UTC)


def test_the_periods_are_whole_days_and_weeks_in_site_time():
    start, end = digest_period(FollowMail.DAILY, NOW)
    assert (start.isoformat(), end.isoformat()) == ("2030-12-10T00:00:00-05:00", "2030-12-11T00:00:00-05:00")
    start, end = digest_period(FollowMail.WEEKLY, NOW)
    assert (start.isoformat(), end.isoformat()) == ("2030-12-02T00:00:00-05:00", "2030-12-09T00:00:00-05:00")


@pytest.fixture
def world(session):
    maps, zines, other = (create_group(slug=s, name=n) for s, n in
                          [("maps", "Map Curators"), ("zines", "Zine Librarians"), ("other", "Others")])
    organizer = create_user(email="org@example.org")
    weekly = create_user(email="weekly@example.org")
    daily = create_user(email="daily@example.org")
    each = create_user(email="each@example.org")
    for member in (weekly, daily, each):
        follow_group(session, maps.id, member=member, now=NOW)
        follow_group(session, zines.id, member=member, now=NOW)
    set_follow_mail_choice(session, weekly, FollowMail.WEEKLY, now=NOW)
    set_follow_mail_choice(session, daily, FollowMail.DAILY, now=NOW)
    later = NOW + timedelta(days=30)

    def published(group, slug, at):
        event = create_event(group, slug=slug, title=slug.title(), status=EventStatus.DRAFT, starts_at=later,
                             ends_at=later + timedelta(hours=1))
        session.flush()
        publish_event(session, event.id, actor=organizer, now=at)
        return event

    published(maps, "last-week-maps", datetime(2030, 12, 3, 15, tzinfo=UTC))
    published(zines, "last-week-zines", datetime(2030, 12, 8, 23, tzinfo=UTC))
    published(other, "not-followed", datetime(2030, 12, 4, 15, tzinfo=UTC))
    published(maps, "yesterday", datetime(2030, 12, 10, 15, tzinfo=UTC))
    published(maps, "today", datetime(2030, 12, 11, 15, tzinfo=UTC))  # in tomorrow's digest
    # A draft never published is in no digest.
    create_event(zines, slug="a-draft", status=EventStatus.DRAFT, starts_at=later, ends_at=later + timedelta(hours=1))
    session.commit()
    return dict(weekly=weekly, daily=daily, each=each, maps=maps)


def test_one_digest_per_member_and_period_listing_every_new_event(session, world):
    assert queue_digests(session, FollowMail.WEEKLY, now=NOW) == 1
    assert queue_digests(session, FollowMail.DAILY, now=NOW) == 1
    session.commit()
    [weekly] = mails(session, kind="followed_groups_digest", recipient="weekly@example.org")
    assert weekly.subject == "Your weekly digest from the groups you follow: 2 new events"
    assert "Last-Week-Maps" in weekly.body_text and "Last-Week-Zines" in weekly.body_text
    assert "Not-Followed" not in weekly.body_text and "Yesterday" not in weekly.body_text
    assert "A-Draft" not in weekly.body_text
    assert weekly.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [daily] = mails(session, kind="followed_groups_digest", recipient="daily@example.org")
    assert daily.subject == "Your daily digest from the groups you follow: 1 new event"
    assert "Yesterday" in daily.body_text and "Today" not in daily.body_text
    # "Each event" members got their mails at publish time and no digest.
    assert mails(session, kind="followed_groups_digest", recipient="each@example.org") == []
    assert len(mails(session, kind="followed_group_event", recipient="each@example.org")) == 5 - 1


def test_running_the_sweep_twice_sends_one_digest(session, world):
    # What tasks/follows.py runs every hour: the next hour's run, and a duplicated one, queue nothing.
    for hours in (0, 0, 1, 5):
        queue_digests(session, FollowMail.WEEKLY, now=NOW + timedelta(hours=hours))
        session.commit()
    assert len(mails(session, kind="followed_groups_digest", recipient="weekly@example.org")) == 1


def test_the_next_hours_run_renders_nothing_for_members_already_mailed(session, world):
    assert queue_digests(session, FollowMail.WEEKLY, now=NOW) == 1
    session.commit()
    # One SELECT that finds nobody left: no digest is rendered again only to be refused by its key.
    with count_queries() as statements:
        assert queue_digests(session, FollowMail.WEEKLY, now=NOW + timedelta(hours=1)) == 0
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


def test_a_sweep_in_chunks_mails_every_member_once(session, world):
    # What tasks/follows.py does: chunks of `limit` members, a commit each, until none is left.
    more = [create_user(email=f"weekly{n}@example.org") for n in range(3)]
    for member in more:
        follow_group(session, world["maps"].id, member=member, now=NOW)
        set_follow_mail_choice(session, member, FollowMail.WEEKLY, now=NOW)
    session.commit()
    counts = []
    while queued := queue_digests(session, FollowMail.WEEKLY, now=NOW, limit=2):
        session.commit()
        counts.append(queued)
    assert counts == [2, 2]
    digests = mails(session, kind="followed_groups_digest")
    assert sorted(m.recipient for m in digests) == sorted(
        ["weekly@example.org", *(m.email for m in more)])
    first = next(m for m in digests if m.recipient == "weekly0@example.org")
    assert "Last-Week-Maps" in first.body_text and "Last-Week-Zines" not in first.body_text  # only maps followed


def test_nobody_with_nothing_new_gets_a_digest(session, world):
    assert queue_digests(session, FollowMail.WEEKLY, now=NOW + timedelta(days=21)) == 0


def test_the_digests_link_stops_digests_and_keeps_the_groups_followed(client, session, world):
    queue_digests(session, FollowMail.WEEKLY, now=NOW)
    session.commit()
    [mail] = mails(session, kind="followed_groups_digest")
    stop = re.search(r"<http://meetups\.test(/unsubscribe/\S+)>", mail.headers["List-Unsubscribe"]).group(1)
    page = client.get(stop)
    assert "Stop mail from the groups you follow</button>" in page.get_data(as_text=True)
    answer = client.post(stop, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    from sqlalchemy import func, select

    from webapp.follows.models import GroupFollow
    from webapp.follows.services import follow_mail_choice

    session.expire_all()
    assert follow_mail_choice(session, world["weekly"].id) == FollowMail.NONE
    assert session.scalar(select(func.count()).where(GroupFollow.user_id == world["weekly"].id)) == 2
    assert "You get no mail" in client.get(stop).get_data(as_text=True)
