"""Every mail kind, rendered for a fixed context and compared with its checked-in copy.

A template change shows in review as a change of tests/mail/golden/<name>.txt, .html and
.subject (rendered by webapp.outbox.templated.render_mail, as every queued mail is). After
changing a template on purpose: `.venv/bin/pytest tests/mail --update-golden`, then read the diff.
The contexts are built by hand from unsaved model objects, with a fixed clock, fixed names and
fixed links, so the files are the same on every database and every day.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from webapp.accounts.models import User
from webapp.display import format_mail_when
from webapp.events.models import Event
from webapp.groups.models import Group
from webapp.organize.models import EventMessage, GroupMessage, MessageAudience
from webapp.outbox.models import OutboxMail
from webapp.outbox.rendering import MissingFact, fill_in_bodies, freeze, render_subject, thaw
from webapp.outbox.templated import render_mail
from webapp.proposals.guidelines import BY_ANCHOR
from webapp.proposals.models import Proposal, ProposalAction, ProposalState, ProposalTransition
from webapp.registrations.mails import attendee_mail_facts
from webapp.registrations.models import Registration, RegistrationStatus

GOLDEN = Path(__file__).parent / "golden"
SITE = "http://meetups.test"
STARTS = datetime(2030, 6, 12, 22, 0, tzinfo=UTC)  # 6 PM in New York
ENDS = datetime(2030, 6, 12, 23, 30, tzinfo=UTC)
# A title with the characters HTML must escape and a Subject header must not.
TITLE = "Zines & <Small Press> Archives"


def _member() -> User:
    return User(email="ada@example.org", display_name="Ada Lovelace")


def _event(*, online: bool = True) -> Event:
    event = Event(slug="zines-archives", title=TITLE, starts_at=STARTS, ends_at=ENDS, is_online=online,
                  capacity=30, sequence=1)
    if not online:
        event.venue_name = "Brooklyn Public Library"
        event.venue_address = "10 Grand Army Plaza, Brooklyn, NY"
        event.venue_accessibility = "Step-free entrance on Flatbush Avenue.\nQuiet room on the 2nd floor."
    return event


def _links(event: Event, member: User) -> dict:
    """What registrations.mails.event_mail_links gives, with fixed tokens."""
    return dict(
        member=member, event=event,
        when=format_mail_when(event.starts_at, event.ends_at),
        event_url=f"{SITE}/events/{event.slug}",
        manage_url=f"{SITE}/registrations/manage/MANAGE-TOKEN",
        my_events_url=MY_EVENTS,
        calendar_url=f"{SITE}/events/{event.slug}/calendar.ics",
        google_url="https://calendar.google.com/calendar/render?action=TEMPLATE&text=Zines",
    )


def _registration(event: Event, member: User, status=RegistrationStatus.CONFIRMED) -> Registration:
    return Registration(event=event, user=member, status=status, generation=1)


JOIN = f"{SITE}/join/JOIN-TOKEN"
MY_EVENTS = f"{SITE}/my/events"


def _registration_mail(kind: str, *, online=True, meeting_url=None, position=None, in_window=False):
    event, member = _event(online=online), _member()
    return f"registration_{kind}", dict(_links(event, member), kind=kind, meeting_url=meeting_url,
                                        position=position, in_reminder_window=in_window)


def _event_mail(kind: str, *, status=RegistrationStatus.CONFIRMED, online=True, join_url=None, **extra):
    event, member = _event(online=online), _member()
    return kind, dict(_links(event, member), registration=_registration(event, member, status),
                      join_url=join_url, **extra)


def _reminder(**kwargs):
    # Written the evening before (display.format_start_from_now, tested in tests/reminders).
    return _event_mail("reminder", starts_from_now="Tomorrow 6:00 PM EDT", **kwargs)


def _changed(changes: set[str], changed: str, subject_line: str, **kwargs):
    return _event_mail("event_changed", changes=changes, changed=changed, subject_line=subject_line, **kwargs)


def _message(audience=MessageAudience.CONFIRMED, *, copy=False):
    event, member = _event(), _member()
    message = EventMessage(event=event, audience=audience, subject="Bring your zines & a friend",
                           body="We start at 6 sharp.\nThe room opens at 5:45 <really>.", recipient_count=12)
    group = Group(slug="zine-librarians", name="Zine Librarians")
    if copy:
        organizer = User(email="grace@example.org", display_name="Grace Hopper")
        context = dict(member=organizer, event=event, event_url=f"{SITE}/events/{event.slug}", copy=True,
                       when=format_mail_when(event.starts_at, event.ends_at),
                       attendees_url=f"{SITE}/events/{event.slug}/attendees")
    else:
        context = dict(_links(event, member), copy=False)
    return "event_message", dict(context, message=message, audience=audience.label, group=group)


def _followers_message(*, copy=False):
    """A dormant group's organizers write to its followers (webapp/organize/messaging.py)."""
    group = Group(slug="zine-librarians", name="Zines & <Comics> Librarians")
    message = GroupMessage(group=group, subject="We’re meeting again & we miss you",
                           body="First Tuesdays from March.\nBring a <zine>.", recipient_count=12)
    context = dict(group=group, message=message, copy=copy, group_url=f"{SITE}/groups/{group.slug}",
                   account_url=f"{SITE}/account")
    if copy:
        context.update(member=User(email="grace@example.org", display_name="Grace Hopper"),
                       messages_url=f"{SITE}/groups/{group.slug}/followers/message")
    else:
        context.update(member=_member(), unsubscribe_url=f"{SITE}/unsubscribe/UNSUBSCRIBE-TOKEN")
    return "followers_message", context


def _proposal(kind: str, action: ProposalAction, *, message="", guidelines=(), group_url=None,
              from_state=ProposalState.SUBMITTED):
    proposer = User(email="ida@example.org", display_name="Ida B. Wells")
    reviewer = User(email="rita@example.org", display_name="Rita Reviewer")
    proposal = Proposal(name="Zines & <Comics> Librarians", topic="Collecting small press", proposer=proposer)
    record = ProposalTransition(action=action, from_state=from_state, message=message)
    actor = proposer if kind == "proposal_reply" or action in (ProposalAction.SUBMIT, ProposalAction.RESUBMIT) \
        else reviewer
    context = dict(proposal=proposal, record=record, actor=actor, url=f"{SITE}/proposals/7",
                   guidelines=[BY_ANCHOR[a] for a in guidelines], guidelines_url=f"{SITE}/guidelines")
    if kind in ("proposal_submitted", "proposal_reply"):
        context["reviewer"] = reviewer
    if group_url:
        context["group_url"] = group_url
    return kind, context


def _invitation(kind: str):
    group = Group(slug="zine-librarians", name="Zines & <Comics> Librarians")
    context = dict(name="Nell Irvin", group=group, url=f"{SITE}/invitations/INVITATION-TOKEN", days=14)
    if kind == "group_invitation":
        context.update(inviter="Grace Hopper", group_url=f"{SITE}/groups/{group.slug}")
    else:
        context.update(proposal=Proposal(name=group.name), proposer=User(email="ida@example.org",
                                                                          display_name="Ida B. Wells"))
    return kind, context


def _series_mail(action: str):
    """The one mail of a whole-series registration (webapp/series/mails.py), with fixed links."""
    from datetime import timedelta

    from webapp.series.models import Series

    def session(weeks: int) -> dict:
        start = STARTS + timedelta(weeks=weeks)
        return dict(title=TITLE, when=format_mail_when(start, start + (ENDS - STARTS)),
                    url=f"{SITE}/events/zines-archives-{weeks}")

    listed = dict(registered=dict(confirmed=[session(0), session(4)], waitlisted=[session(2)], cancelled=[]),
                  cancelled=dict(confirmed=[], waitlisted=[], cancelled=[session(0), session(2)]))[action]
    return "series_registration", dict(
        member=_member(), series=Series(slug="zines-archives", title=TITLE), action=action, **listed,
        series_url=f"{SITE}/series/zines-archives", calendar_url=f"{SITE}/series/zines-archives/calendar.ics",
        my_events_url=MY_EVENTS)


def _new_series():
    """A bi-weekly 6 PM series of 8 sessions from the golden event's day, as the follows mails see it."""
    from datetime import time

    from webapp.series.models import Series
    return Series(slug="zines-archives", title=TITLE, rrule="FREQ=WEEKLY;INTERVAL=2", first_on=STARTS.date(),
                  local_time=time(18), timezone="America/New_York", end_count=8, end_on=None, is_online=True,
                  duration_minutes=90)


def _series_item(group: Group) -> dict:
    """A digest's entry for a series: its sessions published in the period, as one."""
    from webapp.follows.services import schedule_words
    series = _new_series()
    return dict(series=series, group=group, schedule=schedule_words(series), sessions=4,
                first_when=format_mail_when(STARTS, ENDS), series_url=f"{SITE}/series/{series.slug}",
                unfollow_url=f"{SITE}/unsubscribe/UNFOLLOW-{group.slug}")


def _followed_series():
    """A group the member follows made a series (webapp/follows/services.py): one mail for all of it."""
    from datetime import timedelta

    from webapp.follows.services import schedule_words
    series = _new_series()
    first = [dict(when=format_mail_when(STARTS + timedelta(weeks=2 * n), ENDS + timedelta(weeks=2 * n)),
                  url=f"{SITE}/events/zines-archives-{n}") for n in range(3)]
    return "followed_group_series", dict(
        member=_member(), group=Group(slug="zine-librarians", name="Zines & <Comics> Librarians"), series=series,
        schedule=schedule_words(series), first_sessions=first, more_sessions=5,
        series_url=f"{SITE}/series/zines-archives", group_url=f"{SITE}/groups/zine-librarians",
        account_url=f"{SITE}/account", unsubscribe_url=f"{SITE}/unsubscribe/UNSUBSCRIBE-TOKEN")


def _digest(*, daily: bool, catching_up: bool = False, with_series: bool = False):
    """A digest of two events of two groups the member follows (webapp/follows/services.py); one
    that catches up after a scheduler was down says since when; a series is one entry."""
    from webapp.follows.services import digest_headline
    groups = [Group(slug="zine-librarians", name="Zines & <Comics> Librarians"),
              Group(slug="maps", name="Map Curators")]
    items = [dict(event=event, group=group, when=format_mail_when(event.starts_at, event.ends_at),
                  event_url=f"{SITE}/events/{event.slug}", unfollow_url=f"{SITE}/unsubscribe/UNFOLLOW-{group.slug}")
             for event, group in zip([_event(online=False), _event()], groups, strict=True)]
    items = items[:1] if daily and not catching_up else items
    if with_series:
        items = [_series_item(groups[0]), *items]
    return "followed_groups_digest", dict(member=_member(), items=items, headline=digest_headline(items),
                                          daily=daily, catching_up=catching_up,
                                          since="Saturday, June 1, 2030" if catching_up else "Monday, June 3, 2030",
                                          stop_url=f"{SITE}/unsubscribe/STOP-TOKEN",
                                          account_url=f"{SITE}/account")


def _agenda():
    from datetime import timedelta

    from webapp.slots.agenda import AgendaItem
    return [AgendaItem(STARTS, STARTS + timedelta(minutes=15), "15-minute talk", "Ada Lovelace",
                       "Zines & <the stacks>", ""),
            AgendaItem(STARTS + timedelta(minutes=15), STARTS + timedelta(minutes=45), "Facilitator", "Grace Hopper",
                       "Open discussion", "")]


def _slot_mail(kind: str, *, removed: bool = False, withdrawn: bool = False, was_approved: bool = True):
    from webapp.slots.models import SlotClaim, SlotOffer
    event, member = _event(), _member()
    claim = SlotClaim(title="Zines & <the stacks>", offer=SlotOffer(label="15-minute talk", minutes=15, how_many=3))
    if kind == "slot_released":
        return kind, dict(_links(event, member), claim=claim)
    if kind == "slot_approved":  # second on the agenda: from 6:15 PM
        return kind, dict(_links(event, member), claim=claim, item=_agenda()[1])
    return kind, dict(event=event, claim=claim, was_approved=was_approved, removed=removed, withdrawn=withdrawn,
                      presenter="Ada Lovelace", event_url=f"{SITE}/events/{event.slug}",
                      slots_url=f"{SITE}/events/{event.slug}/slots")


A = ProposalAction
CASES = {
    "registration_confirmed.online_with_link": lambda: _registration_mail("confirmed", meeting_url=JOIN,
                                                                          in_window=True),
    "registration_confirmed.online_link_later": lambda: _registration_mail("confirmed"),
    "registration_confirmed.in_person": lambda: _registration_mail("confirmed", online=False),
    "registration_waitlisted": lambda: _registration_mail("waitlisted", position=3),
    "registration_promoted.online_with_link": lambda: _registration_mail("promoted", meeting_url=JOIN,
                                                                         in_window=True),
    "registration_promoted.in_person": lambda: _registration_mail("promoted", online=False),
    "registration_cancelled": lambda: _registration_mail("cancelled"),
    "registration_removed": lambda: _registration_mail("removed", online=False),
    "reminder.with_link": lambda: _reminder(join_url=JOIN),
    "reminder.no_link_yet": lambda: _reminder(),
    "reminder.in_person": lambda: _reminder(online=False),
    # A Zoom meeting the site made (webapp/zoom): the attendee's own Zoom link, or /join/ with a note.
    "reminder.zoom_link": lambda: _reminder(join_url=JOIN, zoom_url="https://zoom.example/w/81000000001?tk=TOKEN"),
    "reminder.zoom_link_pending": lambda: _reminder(join_url=JOIN, zoom_link_pending=True),
    "event_changed.time": lambda: _changed({"time"}, "the time", f"New time: {TITLE}", in_window=False),
    "event_changed.link_in_window": lambda: _changed({"link"}, "the meeting link", f"New meeting link: {TITLE}",
                                                     in_window=True, join_url=JOIN),
    "event_changed.place_waitlisted": lambda: _changed({"place"}, "the place", f"New place: {TITLE}",
                                                       in_window=False, online=False,
                                                       status=RegistrationStatus.WAITLISTED),
    "event_changed.online_later": lambda: _changed({"time", "place"}, "the time and the place",
                                                   f"New time and place: {TITLE}", in_window=False),
    "event_cancelled": lambda: _event_mail("event_cancelled"),
    "still_coming.release_on": lambda: _event_mail("still_coming", yes_url=f"{SITE}/still-coming/TOKEN/yes",
                                                   free_url=f"{SITE}/still-coming/TOKEN/free", waiting=3,
                                                   release_at="Tuesday, June 11, 2030, 6:00 PM EDT"),
    "still_coming.release_off": lambda: _event_mail("still_coming", yes_url=f"{SITE}/still-coming/TOKEN/yes",
                                                    free_url=f"{SITE}/still-coming/TOKEN/free", waiting=1,
                                                    release_at=None),
    "seat_released": lambda: _event_mail("seat_released", status=RegistrationStatus.WAITLISTED, position=1),
    "event_message.confirmed": lambda: _message(),
    "event_message.waitlisted": lambda: _message(MessageAudience.WAITLISTED),
    "event_message.sender_copy": lambda: _message(copy=True),
    "proposal_submitted": lambda: _proposal("proposal_submitted", A.SUBMIT, from_state=ProposalState.DRAFT),
    "proposal_submitted.resubmitted": lambda: _proposal("proposal_submitted", A.RESUBMIT,
                                                        message="I narrowed the topic.\nSee the new plan."),
    "proposal_reply.comment": lambda: _proposal("proposal_reply", A.COMMENT, message="Thanks, *done*."),
    "proposal_reply.withdraw": lambda: _proposal("proposal_reply", A.WITHDRAW),
    "proposal_decision.approve": lambda: _proposal("proposal_decision", A.APPROVE, message="Welcome!",
                                                   group_url=f"{SITE}/groups/zine-librarians"),
    "proposal_decision.decline": lambda: _proposal("proposal_decision", A.DECLINE),
    "proposal_decision.request_changes": lambda: _proposal(
        "proposal_decision", A.REQUEST_CHANGES, message="Please say who it is for & how often.",
        guidelines=list(BY_ANCHOR)[:2]),
    "proposal_decision.comment": lambda: _proposal("proposal_decision", A.COMMENT, message="One question."),
    "proposal_invitation": lambda: _invitation("proposal_invitation"),
    "group_invitation": lambda: _invitation("group_invitation"),
    "sign_in": lambda: ("sign_in", dict(link=f"{SITE}/sign-in/SIGN-IN-TOKEN", minutes=30,
                                         site_name="METRO Meetups")),
    # The member asked to delete their account (webapp/privacy/deletion.py).
    "account_deletion": lambda: ("account_deletion", dict(link=f"{SITE}/account/delete/DELETE-TOKEN", minutes=60,
                                                          name="Ada Lovelace", site_name="METRO Meetups")),
    # Register pressed while signed out: the link finishes it, and the mail says for which event.
    "sign_in.register": lambda: ("sign_in", dict(link=f"{SITE}/sign-in/SIGN-IN-TOKEN", minutes=30,
                                                  site_name="METRO Meetups",
                                                  purpose=f"finish registering for {TITLE}")),
    # A group the member follows published an event (webapp/follows/services.py).
    "followed_group_event": lambda: ("followed_group_event", dict(
        _links(_event(online=False), _member()),
        group=Group(slug="zine-librarians", name="Zines & <Comics> Librarians"),
        group_url=f"{SITE}/groups/zine-librarians", account_url=f"{SITE}/account",
        unsubscribe_url=f"{SITE}/unsubscribe/UNSUBSCRIBE-TOKEN")),
    "series_registration.registered": lambda: _series_mail("registered"),
    "series_registration.cancelled": lambda: _series_mail("cancelled"),
    "followers_message": lambda: _followers_message(),
    "followers_message.sender_copy": lambda: _followers_message(copy=True),
    "followed_groups_digest.weekly": lambda: _digest(daily=False),
    "followed_groups_digest.daily": lambda: _digest(daily=True),
    "followed_groups_digest.catch_up": lambda: _digest(daily=True, catching_up=True),
    "followed_groups_digest.with_series": lambda: _digest(daily=False, with_series=True),
    "followed_group_series": lambda: _followed_series(),
    # Slots (webapp/slots): the agenda in the reminder, a released slot, a freed one (to the organizers).
    "reminder.with_agenda": lambda: _reminder(join_url=JOIN, agenda=_agenda()),
    "slot_released": lambda: _slot_mail("slot_released"),
    "slot_freed": lambda: _slot_mail("slot_freed"),
    "slot_freed.removed_while_pending": lambda: _slot_mail("slot_freed", removed=True, was_approved=False),
    # The organizers approved a claim; the presenter withdrew theirs, keeping the seat.
    "slot_approved": lambda: _slot_mail("slot_approved"),
    "slot_freed.withdrawn": lambda: _slot_mail("slot_freed", withdrawn=True),
    # A member who gave no name: "Hello," and never "Hello there,".
    "registration_confirmed.no_name": lambda: ("registration_confirmed", dict(
        _registration_mail("confirmed")[1], member=User(email="new@example.org"))),
}


def _render(kind: str, context: dict) -> dict[str, str]:
    mail = render_mail(kind, context)
    return {"subject": mail.subject, "txt": mail.text, "html": mail.html}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mail_matches_its_golden_file(app, name, update_golden):
    kind, context = CASES[name]()
    for suffix, rendered in _render(kind, context).items():
        path = GOLDEN / f"{name}.{suffix}"
        if update_golden:
            path.write_text(rendered, encoding="utf-8")
            continue
        assert path.exists(), f"{path.name} is missing: run pytest tests/mail --update-golden"
        assert rendered == path.read_text(encoding="utf-8"), (
            f"mail/{kind} ({suffix}) no longer renders as {path.name}: if that is intended, run "
            "pytest tests/mail --update-golden and review the diff")


RENDERED_IN_THE_WORKER = sorted(name for name in CASES if name.split(".")[0].startswith("registration_")
                                or name.split(".")[0] == "reminder")


@pytest.mark.parametrize("name", RENDERED_IN_THE_WORKER)
def test_a_mail_rendered_in_the_worker_from_its_stored_facts_matches_its_golden_file(app, name):
    """The registration mails and reminders are queued as facts (JSON in the outbox row) and rendered
    by the worker: the very same bytes as rendering them from the model objects in the request."""
    kind, context = CASES[name]()
    stored = json.loads(json.dumps(freeze(attendee_mail_facts(context))))  # as the database gives it back
    mail = OutboxMail(kind=kind, template=kind, context=stored, body_text="")
    fill_in_bodies(mail)
    rendered = {"subject": render_subject(kind, thaw(stored)), "txt": mail.body_text, "html": mail.body_html}
    for suffix, text in rendered.items():
        assert text == (GOLDEN / f"{name}.{suffix}").read_text(encoding="utf-8"), f"{name}.{suffix}"
    assert mail.context is None  # rendered once; from now on the row carries its words


def test_a_model_object_cannot_be_stored_as_a_mail_fact():
    with pytest.raises(TypeError, match="facts, not Event objects"):
        freeze({"event": _event()})


def test_a_fact_the_template_reads_but_was_not_stored_fails_the_mail_loudly(app):
    kind, context = CASES["registration_waitlisted"]()
    stored = freeze(attendee_mail_facts(context))
    del stored["event"]["title"]
    with pytest.raises(MissingFact, match="'title'"):
        fill_in_bodies(OutboxMail(kind=kind, template=kind, context=stored, body_text=""))


def test_every_mail_template_has_a_golden_file():
    templates = Path(__file__).resolve().parents[2] / "templates" / "mail"
    kinds = {p.stem for p in templates.glob("*.txt") if not p.stem.startswith("_")}
    covered = {name.split(".")[0] for name in CASES}
    assert kinds == covered


def test_every_html_mail_extends_the_layout():
    templates = Path(__file__).resolve().parents[2] / "templates" / "mail"
    for path in templates.glob("*.html"):
        if not path.stem.startswith("_"):
            assert path.read_text().startswith('{% extends "mail/_layout.html" %}'), path.name


# Mails that are not about the reader's own registrations: they link to what they are about
# (the sign-in link, the proposal, the invitation; the sender's copy of a message, to the
# event's attendee list; a followed group's mails, to the group and its unfollow link). Every
# other kind, including any new one, must link to My events.
NOT_ABOUT_MY_EVENTS = {"sign_in", "account_deletion", "proposal_submitted", "proposal_reply", "proposal_decision",
                       "proposal_invitation", "group_invitation", "event_message.sender_copy",
                       "followed_group_event", "followed_group_series", "followed_groups_digest",
                       "followers_message",
                       # To the organizers: it links to the event's slots page.
                       "slot_freed"}
MEMBER_MAILS = sorted(name for name in CASES
                      if name not in NOT_ABOUT_MY_EVENTS and name.split(".")[0] not in NOT_ABOUT_MY_EVENTS)


def test_the_member_mails_are_the_ones_about_registrations():
    kinds = {name.split(".")[0] for name in MEMBER_MAILS}
    assert kinds == {"registration_confirmed", "registration_waitlisted", "registration_promoted",
                     "registration_cancelled", "registration_removed", "reminder", "event_changed",
                     "event_cancelled", "event_message", "still_coming", "seat_released", "slot_released",
                     "slot_approved", "series_registration"}


@pytest.mark.parametrize("name", MEMBER_MAILS)
def test_every_member_mail_links_to_my_events_in_both_parts(app, name):
    mail = render_mail(*CASES[name]())
    assert f'<a href="{MY_EVENTS}" style="color:#1d4f91">My events</a>' in mail.html
    assert f"(My events):\n{MY_EVENTS}\n" in mail.text


def test_the_senders_copy_of_a_message_links_to_the_attendee_list(app):
    mail = render_mail(*CASES["event_message.sender_copy"]())
    assert f"{SITE}/events/zines-archives/attendees" in mail.text
    assert ">the attendee list</a>" in mail.html
    assert MY_EVENTS not in mail.text + mail.html
