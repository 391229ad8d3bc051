"""Messages organizers write: what every kind shares (kept once per form, one mail per recipient and
a copy to the sender, handed to the workers with the commit), and the message to a group's followers.

Messages to an event's attendees are webapp.organize.attendees.send_message, on these same pieces.
Services flush and never commit; the actor and the clock are arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from webapp.display import format_date, plural
from webapp.events.models import Event, EventStatus
from webapp.follows.services import followers_of, followers_who_take_mail, unsubscribe_headers
from webapp.follows.tokens import unsubscribe_url
from webapp.groups.models import Group
from webapp.groups.services import reply_to_organizers
from webapp.organize.models import GroupMessage
from webapp.organize.services import OrganizeError
from webapp.outbox.models import OutboxMail
from webapp.outbox.services import PENDING_KEY
from webapp.outbox.templated import queue_templated_mail
from webapp.urls import absolute_url

log = logging.getLogger(__name__)

FOLLOWERS_MAIL = "followers_message"


@dataclass
class MessageSent:
    message: object
    # False when this form's message had been sent before (a double submit): nothing new was queued.
    created: bool = True


def message_sent_before(session: Session, model, client_key: str, **scope):
    """The message this form (its one-time `client_key`) already sent in this scope, if any."""
    return session.scalar(select(model).filter_by(client_key=client_key, **scope))


def keep_and_queue(session: Session, message, *, scope: dict,
                   mails_for: Callable[[object], Iterable[OutboxMail | None]]) -> MessageSent:
    """Keep `message` and queue the mails `mails_for(message)` writes, in the caller's transaction.

    The message's unique (scope, client_key) decides a double submit: the same form sent at the same
    moment from a second tab finds the first one's row, and that one's mails are the mails.
    """
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        return MessageSent(message_sent_before(session, type(message), message.client_key, **scope), created=False)
    mails = [mail for mail in mails_for(message) if mail is not None]
    session.flush()  # every recipient's mail in a few INSERTs
    session.info.setdefault(PENDING_KEY, []).extend(mail.id for mail in mails)
    return MessageSent(message)


# --- to a group's followers ------------------------------------------------------------------------------

def next_event_of(session: Session, group_id: int, now: datetime) -> Event | None:
    """The group's next published event that has not ended, if it has one."""
    return session.scalar(
        select(Event).where(Event.group_id == group_id, Event.status == EventStatus.SCHEDULED, Event.ends_at >= now)
        .order_by(Event.starts_at, Event.id).limit(1)
    )


def followers_message_problem(session: Session, group: Group, now: datetime) -> str | None:
    """Why the organizers can't write to the followers now, or None when they can.

    Only a dormant group (nothing published ahead) writes to its followers: while an event is
    coming, they are told of it by the new-event mail, and a second mail would only crowd it.
    """
    upcoming = next_event_of(session, group.id, now)
    if upcoming is not None:
        return (f"{group.name} has an event coming up ({upcoming.title}, {format_date(upcoming.starts_at)}), and "
                "its followers were mailed about it when it was published. Writing to followers is for a group "
                "with nothing scheduled, to tell them it is meeting again.")
    return None


def group_messages(session: Session, group_id: int) -> list[GroupMessage]:
    """What the organizers wrote to this group's followers, newest first."""
    return list(session.scalars(
        select(GroupMessage).options(joinedload(GroupMessage.sender))
        .where(GroupMessage.group_id == group_id)
        .order_by(GroupMessage.created_at.desc(), GroupMessage.id.desc())
    ))


def readers_of(session: Session, group_id: int, sender_id: int) -> list:
    """Who a message to the group's followers reaches: followers who take mail, but the sender
    (who gets the copy instead)."""
    return [f for f in followers_who_take_mail(session, group_id) if f.id != sender_id]


def nobody_to_write_to(session: Session, group: Group, sender_id: int) -> str:
    """Why a message to the followers would reach nobody, in words: nobody follows the group yet,
    or every follower chose no mail from the groups they follow."""
    others = [f for f in followers_of(session, group.id) if f.id != sender_id]
    if not others:
        return (f"Nobody follows {group.name} yet, so there’s nobody to write to. Members follow a group "
                "with the Follow button on its page.")
    return (f"The {plural(len(others), 'member')} who follow {group.name} chose no mail from the groups "
            "they follow, so there’s nobody to write to.")


def send_to_followers(session: Session, group_id: int, *, sender, subject: str, body: str, client_key: str,
                      now: datetime) -> MessageSent:
    """Keep the message on the group and queue one mail per follower (each with their own one-click
    unsubscribe link) plus a copy to the sender, in the caller's transaction. The same form sent
    twice (its `client_key`) sends once. Replies go to the group's organizers.

    Refused while the group has an upcoming event (followers_message_problem), and when nobody
    follows it who takes mail from followed groups.
    """
    if (existing := message_sent_before(session, GroupMessage, client_key, group_id=group_id)) is not None:
        return MessageSent(existing, created=False)
    group = session.get(Group, group_id)
    if problem := followers_message_problem(session, group, now):
        raise OrganizeError(problem, status=409)
    # The sender gets the copy instead; members who chose no mail from followed groups get none.
    followers = readers_of(session, group_id, sender.id)
    if not followers:
        raise OrganizeError(f"{nobody_to_write_to(session, group, sender.id)} Nothing was sent.", status=422)
    message = GroupMessage(group_id=group_id, sender_id=sender.id, subject=subject, body=body,
                           recipient_count=len(followers), client_key=client_key, created_at=now)
    reply_to = reply_to_organizers(session, group_id)
    context = dict(group=group, group_url=absolute_url("groups.detail", slug=group.slug),
                   account_url=absolute_url("accounts.account"))

    def mails_for(message: GroupMessage):
        for follower in followers:
            link = unsubscribe_url(group.id, follower.id)
            yield queue_templated_mail(
                session, FOLLOWERS_MAIL, follower.email,
                dict(context, member=follower, message=message, copy=False, unsubscribe_url=link),
                dedup_key=f"{FOLLOWERS_MAIL}:{message.id}:{follower.id}", headers=unsubscribe_headers(link),
                reply_to=reply_to, now=now, flush=False)
        yield queue_templated_mail(
            session, FOLLOWERS_MAIL, sender.email,
            dict(context, member=sender, message=message, copy=True,
                 messages_url=absolute_url("organize.write_to_followers", slug=group.slug)),
            dedup_key=f"{FOLLOWERS_MAIL}:copy:{message.id}", reply_to=reply_to, now=now, flush=False)

    sent = keep_and_queue(session, message, scope=dict(group_id=group_id), mails_for=mails_for)
    if sent.created:
        log.info("group %s: message %s to %d followers from %s", group_id, message.id, len(followers), sender.email)
    return sent
