"""The rules of following a group: follow, unfollow, who follows, and the mail a new event or a new
series sends.

Services flush and never commit; the actor and the clock are arguments.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy import String, cast, delete, func, literal, select, update
from sqlalchemy.orm import Session

from webapp.accounts.models import User
from webapp.db import UTCDateTime, insert_on_conflict
from webapp.display import format_clock, format_date, format_mail_when, plural, site_zone
from webapp.events.models import Event, EventStatus
from webapp.follows.models import DEFAULT_FOLLOW_MAIL, EventPublication, FollowMail, FollowMailChoice, GroupFollow
from webapp.follows.tokens import digest_unsubscribe_url, unsubscribe_url
from webapp.groups.models import Group
from webapp.outbox.services import key_is_queued
from webapp.outbox.templated import MailTo, queue_templated_mail, queue_templated_mails
from webapp.series.models import Series
from webapp.series.recurrence import describe_rule, session_count
from webapp.urls import absolute_url

log = logging.getLogger(__name__)

NEW_EVENT_MAIL = "followed_group_event"
NEW_SERIES_MAIL = "followed_group_series"
DIGEST_MAIL = "followed_groups_digest"


# --- following -------------------------------------------------------------------------------------

def follow_group(session: Session, group_id: int, *, member, now: datetime) -> bool:
    """The member follows the group; True if they did not already. Following twice (a replayed
    POST, two tabs) leaves one row: the unique (group, member) key decides, in one statement, so
    two requests at the same moment cannot both insert nor either fail."""
    row_id = session.scalar(
        insert_on_conflict(session)(GroupFollow.__table__)
        .values(group_id=group_id, user_id=member.id, created_at=now)
        .on_conflict_do_nothing(index_elements=["group_id", "user_id"])
        .returning(GroupFollow.__table__.c.id)
    )
    if row_id is not None:
        log.info("member %s follows group %s", member.id, group_id)
    return row_id is not None


def unfollow_group(session: Session, group_id: int, user_id: int) -> bool:
    """The member no longer follows the group; True if they did. Unfollowing twice is harmless."""
    result = session.execute(
        delete(GroupFollow).where(GroupFollow.group_id == group_id, GroupFollow.user_id == user_id)
    )
    return bool(result.rowcount)


def is_following(session: Session, group_id: int, user_id: int | None) -> bool:
    if user_id is None:
        return False
    return session.scalar(
        select(GroupFollow.id).where(GroupFollow.group_id == group_id, GroupFollow.user_id == user_id)
    ) is not None


def follow_counts(session: Session, group_id: int, user_id: int | None) -> tuple[int, bool]:
    """The group's follower count and whether this member is one of them, in one statement."""
    count, mine = session.execute(
        select(func.count(GroupFollow.id), func.count(GroupFollow.id).filter(GroupFollow.user_id == user_id))
        .where(GroupFollow.group_id == group_id)
    ).one()
    return count, bool(user_id is not None and mine)


def follower_count(session: Session, group_id: int) -> int:
    return session.scalar(select(func.count(GroupFollow.id)).where(GroupFollow.group_id == group_id))


def followers_of(session: Session, group_id: int) -> list[User]:
    """The group's followers, longest-standing first (its organizers' list)."""
    return list(session.scalars(
        select(User).join(GroupFollow, GroupFollow.user_id == User.id)
        .where(GroupFollow.group_id == group_id).order_by(GroupFollow.created_at, GroupFollow.id)
    ))


def followers_who_take_mail(session: Session, group_id: int) -> list[User]:
    """The group's followers who take mail from the groups they follow (all but those who chose
    "No mail"): who a message from the organizers to the followers goes to."""
    return list(session.scalars(
        select(User).join(GroupFollow, GroupFollow.user_id == User.id)
        .outerjoin(FollowMailChoice, FollowMailChoice.user_id == User.id)
        .where(GroupFollow.group_id == group_id)
        .where((FollowMailChoice.choice.is_(None)) | (FollowMailChoice.choice != FollowMail.NONE))
        .order_by(GroupFollow.created_at, GroupFollow.id)
    ))


# --- how a follower hears of new events ------------------------------------------------------------

DIGESTS = (FollowMail.DAILY, FollowMail.WEEKLY)


def follow_mail_choice(session: Session, user_id: int) -> FollowMail:
    choice = session.get(FollowMailChoice, user_id)
    return choice.choice if choice is not None else DEFAULT_FOLLOW_MAIL


def parse_follow_mail(value: str | None) -> FollowMail | None:
    """The choice a form posted, or None when it is not one of the four."""
    try:
        return FollowMail(value)
    except ValueError:
        return None


def set_follow_mail_choice(session: Session, member, choice: FollowMail, *, now: datetime) -> None:
    row = session.get(FollowMailChoice, member.id)
    was_digest = row is not None and row.choice in DIGESTS
    if choice not in DIGESTS:
        digest_from = None
    elif was_digest:
        digest_from = row.digest_from  # daily to weekly or back: what the digest owes stays owed
    else:
        digest_from = now  # the events before were mailed one by one, or not wanted
    if row is None:
        session.add(FollowMailChoice(user_id=member.id, choice=choice, updated_at=now, digest_from=digest_from))
    else:
        row.choice, row.updated_at, row.digest_from = choice, now, digest_from
    session.flush()


def _followers_for_each_event(session: Session, group_id: int) -> list[User]:
    """Followers who want a mail for each new event: those who chose it, and those who never chose."""
    return list(session.scalars(
        select(User).join(GroupFollow, GroupFollow.user_id == User.id)
        .outerjoin(FollowMailChoice, FollowMailChoice.user_id == User.id)
        .where(GroupFollow.group_id == group_id)
        .where((FollowMailChoice.choice.is_(None)) | (FollowMailChoice.choice == FollowMail.EACH))
        .order_by(User.id)
    ))


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: mail clients show "Unsubscribe" and POST to the link."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def stop_follow_mail(session: Session, user_id: int, *, now: datetime) -> None:
    """A digest's unsubscribe link: no more mail from followed groups; the groups stay followed."""
    member = session.get(User, user_id)
    if member is not None:
        set_follow_mail_choice(session, member, FollowMail.NONE, now=now)


def tell_followers_of_new_event(session: Session, event, *, actor, now: datetime) -> int:
    """Queue the new-event mail to the group's followers who want each event, in the caller's
    transaction (the publish): a rollback queues nothing. Never to the organizer who published it.
    Once per event and follower, whatever happens to the event later: the dedup key says so.
    Returns how many mails were queued."""
    if event.group_id is None:
        return 0
    # What the daily and weekly digests list; its first publish only.
    session.execute(
        insert_on_conflict(session)(EventPublication.__table__)
        .values(event_id=event.id, group_id=event.group_id, published_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    group = session.get(Group, event.group_id)
    context = dict(group=group, event=event, when=format_mail_when(event.starts_at, event.ends_at),
                   event_url=absolute_url("events.detail", slug=event.slug),
                   group_url=absolute_url("groups.detail", slug=group.slug),
                   account_url=absolute_url("accounts.account"))
    return _mail_each_event_followers(session, group, NEW_EVENT_MAIL, context, f"follow-new-event:{event.id}",
                                      actor=actor, event_id=event.id, now=now)


def _mail_each_event_followers(session: Session, group: Group, kind: str, context: dict, key: str, *, actor,
                               event_id: int, now: datetime) -> int:
    """One `kind` mail to each follower of `group` who wants each event (never to `actor`), with their
    own unfollow link and RFC 8058 headers, keyed `<key>:<follower>`; how many were queued."""
    queued = 0
    for follower in _followers_for_each_event(session, group.id):
        if actor is not None and follower.id == getattr(actor, "id", None):
            continue
        mail = queue_templated_mail(
            session, kind, follower.email,
            dict(context, member=follower, unsubscribe_url=unsubscribe_url(group.id, follower.id)),
            dedup_key=f"{key}:{follower.id}",
            headers=unsubscribe_headers(unsubscribe_url(group.id, follower.id)), event_id=event_id, now=now,
        )
        queued += mail is not None
    return queued


def schedule_words(series: Series) -> str:
    """A series' schedule in one phrase, from its recurrence: "every two weeks on Wednesday at
    6 PM, from December 9, 2026, 8 sessions". The rule's words are the series page's own
    (describe_rule); what a follower's mail and digest say of a series is said here only."""
    rule = describe_rule(series.rrule, series.first_on)
    first = series.first_on
    count = session_count(series)
    return (f"{rule[:1].lower()}{rule[1:]} at {format_clock(series.local_time)}, "
            f"from {first:%B} {first.day}, {first.year}, {plural(count, 'session')}")


# How many of a new series' first sessions its mail lists by date; the series page lists them all.
SERIES_MAIL_SESSIONS = 3


def tell_followers_of_new_series(session: Session, series: Series, sessions: list, *, actor,
                                 now: datetime) -> int:
    """Tell the group's followers who want each event of a new series, once and as a series (its
    schedule, its first sessions, the series page to register for all), in the caller's transaction
    (the create): a rollback queues nothing. Never to the organizer who made it. `sessions`: the
    sessions made with it, in start order; each is published for the digests, which show them as one
    entry for the series. Sessions the sweep makes later are told to nobody: the series was.
    Returns how many mails were queued."""
    if not sessions:
        return 0
    session.execute(
        insert_on_conflict(session)(EventPublication.__table__)
        .values([dict(event_id=event.id, group_id=series.group_id, published_at=now) for event in sessions])
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    group = session.get(Group, series.group_id)
    shown = sessions[:SERIES_MAIL_SESSIONS]
    context = dict(
        group=group, series=series, schedule=schedule_words(series),
        first_sessions=[dict(when=format_mail_when(e.starts_at, e.ends_at),
                             url=absolute_url("events.detail", slug=e.slug)) for e in shown],
        more_sessions=session_count(series) - len(shown),
        series_url=absolute_url("series.detail", slug=series.slug),
        group_url=absolute_url("groups.detail", slug=group.slug), account_url=absolute_url("accounts.account"))
    # The rows' event is the first session: its organizers' undelivered-mail list shows them.
    return _mail_each_event_followers(session, group, NEW_SERIES_MAIL, context, f"follow-new-series:{series.id}",
                                      actor=actor, event_id=sessions[0].id, now=now)


# --- daily and weekly digests ------------------------------------------------------------------------

# How far back a digest reaches after a scheduler that was down: two weeks of events in one mail is
# still a digest; older ones have long been on the groups' pages.
DIGEST_CATCH_UP_LIMIT = timedelta(days=14)
# A publish that began just before midnight may commit just after it: the sweep digests a period
# (and closes it for good) only once it has been over this long.
PUBLISH_SETTLE = timedelta(minutes=10)


def digest_period(choice: FollowMail, now: datetime) -> tuple[datetime, datetime]:
    """The last whole period before `now` in site time: yesterday, or last week (Monday to Sunday)."""
    today = now.astimezone(site_zone()).date()
    end = today if choice == FollowMail.DAILY else today - timedelta(days=today.weekday())
    start = end - timedelta(days=1 if choice == FollowMail.DAILY else 7)
    return (datetime.combine(start, time(), site_zone()), datetime.combine(end, time(), site_zone()))


def _digest_key(choice: FollowMail, member_id, period_start: datetime):
    """The outbox key of a member's digest of a period: in Python, or as SQL for a member id column."""
    prefix, suffix = f"follow-digest:{choice.value}:", f":{period_start.date().isoformat()}"
    if isinstance(member_id, int):
        return f"{prefix}{member_id}{suffix}"
    return literal(prefix, String) + cast(member_id, String) + literal(suffix, String)


def queue_digests(session: Session, choice: FollowMail, *, now: datetime, limit: int | None = None) -> int:
    """Queue one digest per member who chose `choice`, listing every event still ahead that their
    followed groups published since the member's previous digest (or since they chose digests, or
    followed the group; at most DIGEST_CATCH_UP_LIMIT back) up to the end of the last whole period.
    So a scheduler that was down for days sends one digest that catches up, not one per missed day.

    Exactly once per member and period: the outbox's unique key (kind, member, period start)
    refuses a second one, from a repeated or duplicated sweep alike. Members with nothing new get
    nothing. Returns how many were queued.

    Members whose digest of the period is queued already are left out in SQL, before anything is
    rendered: the sweep runs every hour, and each run after the first finds (nearly) everyone done.
    `limit`: at most that many members (the lowest ids still to do); the task commits each such
    chunk and calls again while this queues any, so the workers send one chunk while the next is
    rendered, and memory stays flat however many members there are. The call that leaves nobody
    to do closes the period for every member of `choice` (after its mails: a second sweep at the
    same moment waits on this one's outbox keys, then finds them taken).
    """
    start, end = digest_period(choice, now - PUBLISH_SETTLE)
    owed_from = func.coalesce(FollowMailChoice.digest_from, literal(start, UTCDateTime()))
    news = (
        select(User.id)
        .join(FollowMailChoice, FollowMailChoice.user_id == User.id)
        .join(GroupFollow, GroupFollow.user_id == User.id)
        .join(EventPublication, EventPublication.group_id == GroupFollow.group_id)
        .join(Event, Event.id == EventPublication.event_id)
        .where(FollowMailChoice.choice == choice, EventPublication.published_at >= owed_from,
               EventPublication.published_at >= GroupFollow.created_at,
               EventPublication.published_at >= end - DIGEST_CATCH_UP_LIMIT, EventPublication.published_at < end,
               Event.status == EventStatus.SCHEDULED, Event.starts_at > now)
    )
    to_do = (
        news.where(~key_is_queued(_digest_key(choice, User.id, start)))
        .group_by(User.id).order_by(User.id).limit(limit)
    )
    # A session's series comes in the same statement: however many sessions and series, one query.
    rows = session.execute(
        news.with_only_columns(User, Event, Group, EventPublication.published_at, Series)
        .join(Group, Group.id == Event.group_id)
        .outerjoin(Series, Series.id == Event.series_id)
        .where(User.id.in_(to_do))
        .order_by(User.id, Event.starts_at, Event.id)
    ).all()
    if not rows:
        _close_digest_period(session, choice, end)
        return 0
    members: dict[int, User] = {}
    items: dict[int, list[dict]] = defaultdict(list)
    series_items: dict[tuple[int, int], dict] = {}
    schedules: dict[int, str] = {}
    earliest: dict[int, datetime] = {}
    for member, event, group, published_at, series in rows:
        members[member.id] = member
        earliest[member.id] = min(published_at, earliest.get(member.id, published_at))
        if series is not None:
            # A series' sessions are one entry, where its first one in the period would be.
            item = series_items.get((member.id, series.id))
            if item is not None:
                item["sessions"] += 1
                continue
            if series.id not in schedules:
                schedules[series.id] = schedule_words(series)
            item = series_items[(member.id, series.id)] = dict(
                series=series, group=group, schedule=schedules[series.id], sessions=1,
                first_when=format_mail_when(event.starts_at, event.ends_at),
                series_url=absolute_url("series.detail", slug=series.slug),
                unfollow_url=unsubscribe_url(group.id, member.id))
            items[member.id].append(item)
            continue
        items[member.id].append(dict(
            event=event, group=group, when=format_mail_when(event.starts_at, event.ends_at),
            event_url=absolute_url("events.detail", slug=event.slug),
            unfollow_url=unsubscribe_url(group.id, member.id)))
    account_url = absolute_url("accounts.account")
    mails = []
    for member_id, member in members.items():
        stop_url = digest_unsubscribe_url(member_id)
        # A digest that catches up says since when; the usual one names its day or week.
        catching_up = earliest[member_id] < start
        mails.append(MailTo(
            member.email,
            dict(member=member, items=items[member_id], headline=digest_headline(items[member_id]),
                 daily=choice == FollowMail.DAILY,
                 catching_up=catching_up, since=format_date(earliest[member_id] if catching_up else start),
                 stop_url=stop_url, account_url=account_url),
            dedup_key=_digest_key(choice, member_id, start), headers=unsubscribe_headers(stop_url)))
    # One INSERT for the chunk; a key another run queued meanwhile is skipped, as one by one.
    queued = len(queue_templated_mails(session, DIGEST_MAIL, mails, now=now))
    if limit is None or len(members) < limit:  # nobody left after this chunk
        _close_digest_period(session, choice, end)
    if queued:
        log.info("queued %d %s digests", queued, choice.value)
    return queued


def digest_headline(items: list[dict]) -> str:
    """What a digest lists, counted: "2 new events", "1 new series", "2 new events and 1 new series"."""
    series = sum(1 for item in items if "series" in item)
    events = len(items) - series
    words = [plural(events, "new event")] if events or not series else []
    if series:
        words.append(plural(series, "new series", "new series"))
    return " and ".join(words)


def _close_digest_period(session: Session, choice: FollowMail, end: datetime) -> None:
    """Every member of `choice` has their digest of the period ending at `end` queued (or had
    nothing new): the next digest starts where this one ends. Only once nobody is left, so a sweep
    in chunks never closes the period on members of a later chunk. updated_at stays when the member
    chose."""
    session.execute(
        update(FollowMailChoice)
        .where(FollowMailChoice.choice == choice,
               FollowMailChoice.digest_from.is_(None) | (FollowMailChoice.digest_from < end))
        .values(digest_from=end, updated_at=FollowMailChoice.updated_at)
        .execution_options(synchronize_session="fetch")
    )
