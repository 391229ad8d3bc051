"""Everything the site holds about one member, as one structure: the "Your data" page renders it
and the JSON download is it. Keyed by table (EXPORTED), so a test can tell that no table which
names a member is left out of what they are shown (tests/privacy/test_your_data.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from webapp.accounts.models import SignInRequest, User, UserSession
from webapp.events.models import Event
from webapp.feeds.models import PrivateCalendar
from webapp.follows.models import FollowMailChoice, GroupFollow
from webapp.groups.invitations import OrganizerInvitation
from webapp.groups.models import Group, GroupOrganizer
from webapp.organize.models import EventMessage, GroupMessage
from webapp.outbox.models import OutboxMail
from webapp.proposals.models import Proposal, ProposalCoorganizer, ProposalTransition
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.services import waitlist_positions
from webapp.reminders.models import JoinVisit
from webapp.series.models import SeriesRegistration
from webapp.slots.models import SlotClaim, SlotOffer

# Each table that names a member (a users foreign key, or their address), and the section of the
# export that shows what it holds about them.
EXPORTED = {
    "users": "profile", "user_roles": "profile", "follow_mail_choices": "follows", "group_follows": "follows",
    "registrations": "registrations", "join_visits": "registrations", "series_registrations": "series",
    "slot_claims": "slot_claims", "proposals": "proposals", "proposal_transitions": "proposals",
    "proposal_coorganizers": "named_on_proposals", "group_organizers": "organizer_of",
    "organizer_invitations": "invitations", "event_messages": "messages_sent", "group_messages": "messages_sent",
    "private_calendars": "calendar", "user_sessions": "signed_in", "sign_in_requests": "sign_in_links",
    "outbox_mails": "mails",
}


def _needs(text: str, erased_at: datetime | None) -> str:
    if erased_at is not None:
        return f"(given; erased {erased_at:%Y-%m-%d} under the privacy rules)"
    return text


def member_data(session: Session, user: User, *, now: datetime) -> dict:
    """What the site holds about `user`, section by section (values are plain data and datetimes)."""
    email = user.email
    registrations = list(session.scalars(
        select(Registration).options(joinedload(Registration.event)).where(Registration.user_id == user.id)
        .order_by(Registration.created_at)))
    visits: dict[int, list] = {}
    for visit in session.scalars(select(JoinVisit).where(
            JoinVisit.registration_id.in_([r.id for r in registrations])).order_by(JoinVisit.used_at)):
        visits.setdefault(visit.registration_id, []).append({"at": visit.used_at, "outcome": visit.outcome})
    places = waitlist_positions(session, [r for r in registrations if r.status == RegistrationStatus.WAITLISTED])
    choice = session.get(FollowMailChoice, user.id)
    proposals = list(session.scalars(select(Proposal).where(Proposal.proposer_id == user.id).order_by(Proposal.id)))
    return {
        "profile": {
            "email": email, "display_name": user.display_name, "institution": user.institution,
            "pronouns": user.pronouns, "created_at": user.created_at, "last_signed_in_at": user.last_signed_in_at,
            "roles": sorted(role.role for role in user.roles),
        },
        "registrations": [{
            "event": r.event.title, "event_slug": r.event.slug, "starts_at": r.event.starts_at,
            "status": str(r.status), "place_in_line": places.get(r.id), "registered_at": r.created_at,
            "confirmed_at": r.confirmed_at, "cancelled_at": r.cancelled_at,
            "accessibility_needs": _needs(r.accessibility_needs, r.accessibility_needs_erased_at),
            "still_coming": r.still_coming_state, "checked_in_at": r.checked_in_at,
            "name_on_going_list": r.show_name,
            "zoom_joined_at": r.zoom_joined_at, "zoom_minutes": (r.zoom_seconds or 0) // 60 or None,
            "join_link_uses": visits.get(r.id, []),
        } for r in registrations],
        "series": [{
            "series": s.series.title, "registered_at": s.created_at, "cancelled_at": s.cancelled_at,
            "accessibility_needs": s.accessibility_needs,
        } for s in session.scalars(select(SeriesRegistration).options(joinedload(SeriesRegistration.series))
                                   .where(SeriesRegistration.user_id == user.id).order_by(SeriesRegistration.id))],
        "slot_claims": [{
            "event": event_title, "slot": label, "title": claim.title, "abstract": claim.abstract,
            "status": str(claim.status), "claimed_at": claim.claimed_at,
        } for claim, label, event_title in session.execute(
            select(SlotClaim, SlotOffer.label, Event.title).join(SlotOffer, SlotOffer.id == SlotClaim.offer_id)
            .join(Event, Event.id == SlotClaim.event_id).where(SlotClaim.user_id == user.id).order_by(SlotClaim.id))],
        "follows": {
            "mail": str(choice.choice) if choice else "each",
            "groups": [{"group": name, "since": since} for name, since in session.execute(
                select(Group.name, GroupFollow.created_at).join(Group, Group.id == GroupFollow.group_id)
                .where(GroupFollow.user_id == user.id).order_by(GroupFollow.created_at))],
        },
        "proposals": [{
            "name": p.name, "state": str(p.state), "created_at": p.created_at, "topic": p.topic,
            "description": p.description, "need": p.need, "difference": p.difference, "cadence": p.cadence,
            "first_event": p.first_event,
            "history": [{"action": str(t.action), "to": str(t.to_state), "at": t.created_at, "message": t.message}
                        for t in session.scalars(select(ProposalTransition).where(
                            ProposalTransition.proposal_id == p.id).order_by(ProposalTransition.id))],
        } for p in proposals],
        "named_on_proposals": [{"proposal": name, "name_given": c.name, "institution": c.institution}
                               for c, name in session.execute(
                                   select(ProposalCoorganizer, Proposal.name)
                                   .join(Proposal, Proposal.id == ProposalCoorganizer.proposal_id)
                                   .where(func.lower(ProposalCoorganizer.email) == email,
                                          Proposal.proposer_id != user.id))],
        "organizer_of": [{"group": organizer.group.name, "listed_as": organizer.name, "role": organizer.role}
                         for organizer in session.scalars(
                             select(GroupOrganizer).options(joinedload(GroupOrganizer.group))
                             .where(or_(GroupOrganizer.user_id == user.id, GroupOrganizer.email == email)))],
        "invitations": [{"group": invitation.group.name, "name": invitation.name, "sent_at": invitation.created_at,
                         "accepted_at": invitation.accepted_at}
                        for invitation in session.scalars(
                            select(OrganizerInvitation).options(joinedload(OrganizerInvitation.group))
                            .where(OrganizerInvitation.email == email).order_by(OrganizerInvitation.id))],
        "messages_sent": [
            *({"to": "attendees", "subject": m.subject, "at": m.created_at, "recipients": m.recipient_count}
              for m in session.scalars(select(EventMessage).where(EventMessage.sender_id == user.id))),
            *({"to": "followers", "subject": m.subject, "at": m.created_at, "recipients": m.recipient_count}
              for m in session.scalars(select(GroupMessage).where(GroupMessage.sender_id == user.id))),
        ],
        # The address itself is a key to the feed: shown on the account page, not copied into files.
        "calendar": {"private_calendar_made_at": session.scalar(
            select(PrivateCalendar.created_at).where(PrivateCalendar.user_id == user.id))},
        "signed_in": [{"signed_in_at": s.created_at, "ended_at": s.ended_at}
                      for s in session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                               .order_by(UserSession.created_at))],
        "sign_in_links": [{"asked_at": r.created_at, "used_at": r.used_at}
                          for r in session.scalars(select(SignInRequest).where(SignInRequest.email == email)
                                                   .order_by(SignInRequest.created_at))],
        "mails": [{"kind": m.kind, "subject": m.subject, "queued_at": m.created_at, "sent_at": m.sent_at,
                   "state": str(m.state), "text_erased_at": m.body_erased_at}
                  for m in session.scalars(select(OutboxMail).where(
                      OutboxMail.recipient == email)
                      .order_by(OutboxMail.created_at))],
        "exported_at": now,
    }
