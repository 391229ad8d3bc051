"""Daily and weekly digests: one mail per member and period listing every new event of the groups
they follow, exactly once however often the sweep runs; nothing for members with nothing new; after
a scheduler that was down, one digest that catches up (never one per missed day, never a repeat)."""

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
JOINED = datetime(2030, 12, 1, 17, 0, tzinfo=UTC)  # before anything in these tests was published


def publish(session, group, slug, at, *, starts_at=None):
    """`group`'s new event `slug`, published at `at` (by its organizer: he is nobody's follower)."""
    starts_at = starts_at or at + timedelta(days=60)
    event = create_event(group, slug=slug, title=slug.title(), status=EventStatus.DRAFT, starts_at=starts_at,
                         ends_at=starts_at + timedelta(hours=1))
    session.flush()
    publish_event(session, event.id, actor=None, now=at)
    return event


def digests_to(session, address):
    return mails(session, kind="followed_groups_digest", recipient=address)


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
        follow_group(session, maps.id, member=member, now=JOINED)
        follow_group(session, zines.id, member=member, now=JOINED)
    set_follow_mail_choice(session, weekly, FollowMail.WEEKLY, now=JOINED)
    # Last Tuesday at midnight: the events before came one mail each.
    set_follow_mail_choice(session, daily, FollowMail.DAILY, now=datetime(2030, 12, 10, 5, tzinfo=UTC))
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
    # One SELECT that finds nobody left, and the UPDATE that closes the period (it moves nothing
    # now): no digest is rendered again only to be refused by its key.
    with count_queries() as statements:
        assert queue_digests(session, FollowMail.WEEKLY, now=NOW + timedelta(hours=1)) == 0
    assert [s.lstrip().split()[0].upper() for s in statements] == ["SELECT", "UPDATE"]


def test_a_sweep_in_chunks_mails_every_member_once(session, world):
    # What tasks/follows.py does: chunks of `limit` members, a commit each, until none is left.
    more = [create_user(email=f"weekly{n}@example.org") for n in range(3)]
    for member in more:  # following before the events were published, as the world's members did
        follow_group(session, world["maps"].id, member=member, now=JOINED)
        set_follow_mail_choice(session, member, FollowMail.WEEKLY, now=JOINED)
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

    # The last chunk was exactly `limit` members: the empty call after it closed the period, so
    # next week's digests list only next week's news.
    session.commit()
    while queue_digests(session, FollowMail.WEEKLY, now=NOW + timedelta(days=7), limit=2):
        session.commit()
    next_week = [m for m in mails(session, kind="followed_groups_digest") if m not in digests]
    assert len(next_week) == 4 and all("Yesterday" in m.body_text and "Last-Week-Maps" not in m.body_text
                                        for m in next_week)


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


# --- catching up after the scheduler was down ---------------------------------------------------------

@pytest.fixture
def follower(session):
    """A member who follows Map Curators, chose daily digests long ago, and had Saturday's digest
    (the sweep ran on Sunday, December 8) before the scheduler went down."""
    maps = create_group(slug="maps", name="Map Curators")
    member = create_user(email="ada@example.org")
    follow_group(session, maps.id, member=member, now=JOINED)
    set_follow_mail_choice(session, member, FollowMail.DAILY, now=JOINED)
    publish(session, maps, "before-the-outage", datetime(2030, 12, 7, 15, tzinfo=UTC))
    assert queue_digests(session, FollowMail.DAILY, now=datetime(2030, 12, 8, 17, tzinfo=UTC)) == 1
    session.commit()
    return dict(maps=maps, member=member)


def test_a_sweep_down_three_days_sends_one_daily_digest_of_all_three_days(session, follower):
    maps = follower["maps"]
    for day in (8, 9, 10):  # Sunday to Tuesday, New York time; the scheduler is down
        publish(session, maps, f"published-on-the-{day}th", datetime(2030, 12, day, 15, tzinfo=UTC))
    # Published Monday, over by Wednesday: only events still ahead are listed.
    publish(session, maps, "already-over", datetime(2030, 12, 9, 16, tzinfo=UTC),
            starts_at=datetime(2030, 12, 10, 23, tzinfo=UTC))
    session.commit()

    assert queue_digests(session, FollowMail.DAILY, now=NOW) == 1  # back on Wednesday: one mail, not three
    session.commit()
    [_, digest] = digests_to(session, "ada@example.org")
    assert digest.subject == "Your daily digest from the groups you follow: 3 new events"
    assert "published 3 new events since Sunday, December 8, 2030:" in digest.body_text
    assert all(f"Published-On-The-{day}Th" in digest.body_text for day in (8, 9, 10))
    assert "Before-The-Outage" not in digest.body_text and "Already-Over" not in digest.body_text

    # Thursday's digest has Wednesday's event and none of those again.
    publish(session, maps, "after-the-outage", datetime(2030, 12, 11, 18, tzinfo=UTC))
    session.commit()
    for hours in (24, 25):  # and the next hour's sweep finds nothing more to send
        queue_digests(session, FollowMail.DAILY, now=NOW + timedelta(hours=hours))
        session.commit()
    [_, _, thursday] = digests_to(session, "ada@example.org")
    assert thursday.subject.endswith(": 1 new event")
    assert "published 1 new event on Wednesday, December 11, 2030:" in thursday.body_text
    assert "After-The-Outage" in thursday.body_text and "Published-On" not in thursday.body_text


def test_a_weekly_member_after_two_weeks_without_a_sweep_gets_one_digest_of_both_weeks(session):
    maps = create_group(slug="maps", name="Map Curators")
    member = create_user(email="ada@example.org")
    follow_group(session, maps.id, member=member, now=JOINED - timedelta(days=30))
    set_follow_mail_choice(session, member, FollowMail.WEEKLY, now=JOINED - timedelta(days=30))
    publish(session, maps, "week-of-the-18th", datetime(2030, 11, 20, 15, tzinfo=UTC))
    # Monday the 25th: the digest of the week from the 18th; then the scheduler stops for two weeks.
    assert queue_digests(session, FollowMail.WEEKLY, now=datetime(2030, 11, 25, 17, tzinfo=UTC)) == 1
    publish(session, maps, "week-of-the-25th", datetime(2030, 11, 26, 15, tzinfo=UTC))
    publish(session, maps, "week-of-the-2nd", datetime(2030, 12, 8, 15, tzinfo=UTC))
    publish(session, maps, "this-week", datetime(2030, 12, 10, 15, tzinfo=UTC))  # in next week's digest
    session.commit()

    assert queue_digests(session, FollowMail.WEEKLY, now=NOW) == 1
    session.commit()
    [_, digest] = digests_to(session, "ada@example.org")
    assert digest.subject == "Your weekly digest from the groups you follow: 2 new events"
    assert "since Tuesday, November 26, 2030:" in digest.body_text
    assert "Week-Of-The-25Th" in digest.body_text and "Week-Of-The-2Nd" in digest.body_text
    assert "Week-Of-The-18Th" not in digest.body_text and "This-Week" not in digest.body_text

    assert queue_digests(session, FollowMail.WEEKLY, now=NOW + timedelta(days=7)) == 1
    session.commit()
    [_, _, next_week] = digests_to(session, "ada@example.org")
    assert "This-Week" in next_week.body_text and "Week-Of-The" not in next_week.body_text


def test_a_digest_reaches_back_at_most_two_weeks(session, follower):
    maps = follower["maps"]
    publish(session, maps, "too-old", datetime(2030, 12, 9, 15, tzinfo=UTC))
    publish(session, maps, "recent", datetime(2030, 12, 20, 15, tzinfo=UTC))
    session.commit()
    # Down from the 8th to the 26th: the digest of the 25th reaches back to the 11th.
    assert queue_digests(session, FollowMail.DAILY, now=datetime(2030, 12, 26, 17, tzinfo=UTC)) == 1
    session.commit()
    [_, digest] = digests_to(session, "ada@example.org")
    assert "Recent" in digest.body_text and "Too-Old" not in digest.body_text


def test_a_digest_lists_nothing_from_before_the_member_chose_digests_or_followed_the_group(session):
    maps, zines = create_group(slug="maps", name="Map Curators"), create_group(slug="zines", name="Zines")
    member = create_user(email="ada@example.org")
    follow_group(session, maps.id, member=member, now=JOINED)
    publish(session, maps, "mailed-by-itself", datetime(2030, 12, 10, 14, tzinfo=UTC))
    assert len(mails(session, kind="followed_group_event", recipient="ada@example.org")) == 1
    set_follow_mail_choice(session, member, FollowMail.DAILY, now=datetime(2030, 12, 10, 15, tzinfo=UTC))
    publish(session, zines, "before-she-followed", datetime(2030, 12, 10, 16, tzinfo=UTC))
    follow_group(session, zines.id, member=member, now=datetime(2030, 12, 10, 17, tzinfo=UTC))
    publish(session, maps, "maps-after", datetime(2030, 12, 10, 18, tzinfo=UTC))
    publish(session, zines, "zines-after", datetime(2030, 12, 10, 19, tzinfo=UTC))
    session.commit()

    assert queue_digests(session, FollowMail.DAILY, now=NOW) == 1
    session.commit()
    [digest] = digests_to(session, "ada@example.org")
    assert "Maps-After" in digest.body_text and "Zines-After" in digest.body_text
    assert "Mailed-By-Itself" not in digest.body_text and "Before-She-Followed" not in digest.body_text


def test_switching_between_daily_and_weekly_keeps_what_is_owed(session, follower):
    maps, member = follower["maps"], follower["member"]
    publish(session, maps, "sunday-evening", datetime(2030, 12, 8, 18, tzinfo=UTC))
    set_follow_mail_choice(session, member, FollowMail.WEEKLY, now=datetime(2030, 12, 8, 19, tzinfo=UTC))
    session.commit()
    # No daily digest for Sunday now; the weekly one of the week from the 9th has it.
    assert queue_digests(session, FollowMail.DAILY, now=datetime(2030, 12, 9, 17, tzinfo=UTC)) == 0
    assert queue_digests(session, FollowMail.WEEKLY, now=datetime(2030, 12, 16, 17, tzinfo=UTC)) == 1
    session.commit()
    assert "Sunday-Evening" in digests_to(session, "ada@example.org")[-1].body_text


def test_an_event_published_just_before_midnight_is_not_lost_to_a_sweep_just_after(session, follower):
    maps = follower["maps"]
    midnight = datetime(2030, 12, 9, 5, tzinfo=UTC)  # Sunday to Monday in New York
    # The sweep at five past midnight leaves Sunday alone: a publish may still be committing ...
    assert queue_digests(session, FollowMail.DAILY, now=midnight + timedelta(minutes=5)) == 0
    session.commit()
    publish(session, maps, "late-sunday", midnight - timedelta(seconds=1))  # ... as this one was
    session.commit()
    assert queue_digests(session, FollowMail.DAILY, now=midnight + timedelta(minutes=65)) == 1
    session.commit()
    assert "Late-Sunday" in digests_to(session, "ada@example.org")[-1].body_text


def test_a_member_who_chose_a_digest_before_catching_up_existed_gets_the_last_period(session, follower):
    from sqlalchemy import update

    from webapp.follows.models import FollowMailChoice

    maps = follower["maps"]
    publish(session, maps, "monday-event", datetime(2030, 12, 9, 15, tzinfo=UTC))
    publish(session, maps, "tuesday-event", datetime(2030, 12, 10, 15, tzinfo=UTC))
    session.execute(update(FollowMailChoice).values(digest_from=None))  # as the migration left it
    session.commit()
    assert queue_digests(session, FollowMail.DAILY, now=NOW) == 1
    session.commit()
    digest = digests_to(session, "ada@example.org")[-1]
    assert "Tuesday-Event" in digest.body_text and "Monday-Event" not in digest.body_text
