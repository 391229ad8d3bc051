"""The retention sweeps (webapp/privacy/sweeps.py) with a fixed clock: each erases what is due,
keeps what is not (a second before its time included), and erases nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import create_event, create_group, create_user
from tests.series.helpers import series_fields
from webapp.accounts.models import SignInRequest, UserSession
from webapp.accounts.services import load_user, start_session
from webapp.groups.invitations import OrganizerInvitation
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.services import OutboxError, mail_row, retry_mail
from webapp.privacy import sweeps
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration
from webapp.reminders.models import JoinVisit
from webapp.series import services as series_services
from webapp.series.models import SeriesRegistration

# Events end at ENDS; NOW is before them, for registering.
ENDS = datetime(2027, 3, 1, 19, tzinfo=UTC)
NOW = ENDS - timedelta(days=5)
SECOND = timedelta(seconds=1)


def _event_with_needs(session, *, ends_at=ENDS, needs=("Step-free entrance, please.", "")):
    event = create_event(create_group(), starts_at=ends_at - timedelta(hours=1), ends_at=ends_at, capacity=None)
    made = [registrations.register(session, event.id, member=create_user(), accessibility_needs=text,
                                   now=NOW).registration for text in needs]
    session.commit()
    return event, made


def test_needs_are_erased_the_configured_days_after_the_event_ends_and_only_once(app, session):
    event, (with_needs, without) = _event_with_needs(session)
    later, (kept,) = _event_with_needs(session, ends_at=ENDS + timedelta(days=2), needs=("Captions",))
    due = ENDS + timedelta(days=30)

    assert sweeps.erase_accessibility_needs(session, now=due - SECOND) == 0
    session.commit()
    session.refresh(with_needs)
    assert with_needs.accessibility_needs == "Step-free entrance, please."

    assert sweeps.erase_accessibility_needs(session, now=due + SECOND) == 1
    session.commit()
    for row in (with_needs, without, kept):
        session.refresh(row)
    assert with_needs.accessibility_needs == "" and with_needs.accessibility_needs_erased_at == due + SECOND
    assert without.accessibility_needs_erased_at is None  # "needs were given" only where they were
    assert kept.accessibility_needs == "Captions"
    assert sweeps.erase_accessibility_needs(session, now=due + timedelta(hours=1)) == 0


def test_the_setting_moves_the_erasing_day(app, session):
    app.config["ACCESSIBILITY_NEEDS_RETENTION_DAYS"] = 3
    _event, (with_needs, _) = _event_with_needs(session)
    assert sweeps.erase_accessibility_needs(session, now=ENDS + timedelta(days=3) - SECOND) == 0
    assert sweeps.erase_accessibility_needs(session, now=ENDS + timedelta(days=3) + SECOND) == 1


def test_a_series_copy_goes_after_cancelling_or_once_the_series_is_over_never_while_sessions_are_ahead(app, session):
    start = datetime(2027, 1, 4, 15, tzinfo=UTC)
    group = create_group()
    series = series_services.create_series(session, group, series_fields(start, end_count=2), actor=None, now=start)
    staying, leaving = create_user(), create_user()
    for member in (staying, leaving):
        series_services.register_for_series(session, series.id, member=member, now=start,
                                            accessibility_needs="Quiet room")
    series_services.cancel_series_registration(session, series.id, member=leaving, now=start + timedelta(hours=1))
    session.commit()
    last_end = max(e.ends_at for e in series_services.sessions_of(session, series.id))
    copies = {r.user_id: r for r in session.scalars(select(SeriesRegistration))}

    # Sessions still ahead: the staying member's copy is what registers them for the ones made later.
    assert sweeps.erase_accessibility_needs(session, now=start + timedelta(days=2)) == 0
    # The cancelled copy, 30 days after cancelling (the sessions' own needs go by their events' ends).
    erased = sweeps.erase_accessibility_needs(session, now=start + timedelta(hours=1, days=30) + SECOND)
    session.commit()
    session.refresh(copies[leaving.id]), session.refresh(copies[staying.id])
    assert copies[leaving.id].accessibility_needs == "" and copies[staying.id].accessibility_needs == "Quiet room"
    assert erased >= 1
    # Over: every session ended 30 days ago and none is ahead.
    sweeps.erase_accessibility_needs(session, now=last_end + timedelta(days=30) - SECOND)
    session.commit()
    session.refresh(copies[staying.id])
    assert copies[staying.id].accessibility_needs == "Quiet room"
    sweeps.erase_accessibility_needs(session, now=last_end + timedelta(days=30) + SECOND)
    session.commit()
    session.refresh(copies[staying.id])
    assert copies[staying.id].accessibility_needs == ""


def test_sign_in_requests_go_a_week_after_they_were_asked_for(app, session):
    for days in (8, 7, 6):
        asked = NOW - timedelta(days=days)
        session.add(SignInRequest(email=f"d{days}@example.org", token_hash="0" * 64, created_at=asked,
                                  expires_at=asked + timedelta(minutes=15)))
    session.commit()
    assert sweeps.erase_sign_in_requests(session, now=NOW + SECOND) == 2  # 8 and exactly 7 days + 1 s
    session.commit()
    assert session.scalars(select(SignInRequest.email)).all() == ["d6@example.org"]


def test_ended_sessions_go_after_30_days_and_an_open_one_is_untouched(app, session):
    member = create_user()
    signed_out = start_session(session, member, now=NOW - timedelta(days=40))
    still_open = start_session(session, member, now=NOW - timedelta(days=1))
    session.flush()
    rows = session.scalars(select(UserSession).order_by(UserSession.id)).all()
    rows[0].ended_at = NOW - timedelta(days=30) - SECOND
    lapsed = UserSession(user_id=member.id, key_hash="f" * 64, created_at=NOW - timedelta(days=61))
    recent_out = UserSession(user_id=member.id, key_hash="e" * 64, created_at=NOW - timedelta(days=3),
                             ended_at=NOW - timedelta(days=2))
    session.add_all([lapsed, recent_out])
    session.commit()
    assert sweeps.erase_ended_sessions(session, now=NOW) == 2  # signed out 30 days ago, and 61-day-old
    session.commit()
    assert session.scalar(select(func.count()).select_from(UserSession)) == 2
    # The open browser still signs in; nobody can with a deleted row's key.
    assert load_user(session, f"{member.id}:{still_open}", now=NOW) is not None
    assert load_user(session, f"{member.id}:{signed_out}", now=NOW) is None


def test_join_visits_go_90_days_after_the_event_and_the_check_in_mark_stays(app, session):
    _event, (attendee, _) = _event_with_needs(session)
    attendee.checked_in_at = ENDS - timedelta(minutes=50)
    session.add(JoinVisit(registration_id=attendee.id, used_at=ENDS - timedelta(minutes=55), outcome="joined"))
    session.commit()
    assert sweeps.erase_join_visits(session, now=ENDS + timedelta(days=90) - SECOND) == 0
    assert sweeps.erase_join_visits(session, now=ENDS + timedelta(days=90) + SECOND) == 1
    session.commit()
    session.refresh(attendee)
    assert attendee.checked_in_at is not None


def _mail(session, key, state, *, created_at, sent_at=None):
    values = mail_row(kind="reminder", dedup_key=key, recipient="a@example.org", subject="Tomorrow: Chat",
                      body_text="Your link: https://example.org/join/secret", body_html="<p>link</p>",
                      ics="BEGIN:VCALENDAR", headers={"List-Unsubscribe": "<https://example.org/unsubscribe/secret>"})
    row = OutboxMail(**{**values, "state": state, "created_at": created_at, "sent_at": sent_at})
    session.add(row)
    return row


def test_mail_bodies_go_30_days_after_sending_and_the_status_row_stays(app, session):
    queued = NOW - timedelta(days=40)
    old_sent = _mail(session, "a", MailState.SENT, created_at=queued, sent_at=NOW - timedelta(days=30, seconds=1))
    new_sent = _mail(session, "b", MailState.SENT, created_at=queued, sent_at=NOW - timedelta(days=29))
    old_failed = _mail(session, "c", MailState.FAILED, created_at=NOW - timedelta(days=31))
    old_queued = _mail(session, "d", MailState.RETRYING, created_at=NOW - timedelta(days=31))
    session.commit()
    assert sweeps.erase_mail_bodies(session, now=NOW) == 2
    session.commit()
    for row in (old_sent, new_sent, old_failed, old_queued):
        session.refresh(row)
    assert (old_sent.body_text, old_sent.body_html, old_sent.ics, old_sent.headers) == ("", None, None, None)
    assert (old_sent.subject, old_sent.recipient, old_sent.state, old_sent.kind) == \
        ("Tomorrow: Chat", "a@example.org", MailState.SENT, "reminder")
    assert old_sent.body_erased_at == NOW
    assert "secret" in new_sent.body_text and "secret" in old_queued.body_text  # not due; still on its way
    assert sweeps.erase_mail_bodies(session, now=NOW + timedelta(days=1)) == 0
    with pytest.raises(OutboxError, match="erased"):
        retry_mail(session, old_failed.id, actor=create_user(), now=NOW)


def test_a_dropped_mail_never_rendered_loses_its_stored_facts_with_the_bodies(app, session):
    """A mail the worker would have rendered keeps personal facts (name, links) until then: they are
    erased like the bodies (webapp/outbox/rendering.py)."""
    row = _mail(session, "e", MailState.DROPPED, created_at=NOW - timedelta(days=31))
    row.body_text, row.body_html, row.template = "", None, "reminder"
    row.context = {"member": {"display_name": "Ada"}, "join_url": "https://example.org/join/secret"}
    session.commit()
    assert sweeps.erase_mail_bodies(session, now=NOW) == 1
    session.commit()
    session.refresh(row)
    assert (row.context, row.body_text, row.body_erased_at) == (None, "", NOW)


def test_unaccepted_invitations_go_30_days_after_they_expired_or_were_withdrawn(app, session):
    group = create_group()

    def invitation(email, **fields):
        row = OrganizerInvitation(group_id=group.id, email=email, created_at=NOW - timedelta(days=60), **fields)
        session.add(row)
        return row

    invitation("expired@example.org", expires_at=NOW - timedelta(days=31))
    invitation("withdrawn@example.org", expires_at=NOW + timedelta(days=1), revoked_at=NOW - timedelta(days=31))
    invitation("recent@example.org", expires_at=NOW - timedelta(days=29))
    invitation("accepted@example.org", expires_at=NOW - timedelta(days=40), accepted_at=NOW - timedelta(days=50))
    session.commit()
    assert sweeps.erase_unaccepted_invitations(session, now=NOW) == 2
    session.commit()
    assert sorted(session.scalars(select(OrganizerInvitation.email))) == ["accepted@example.org", "recent@example.org"]


def test_one_sweep_runs_every_row_of_the_table(app, session):
    from webapp.privacy.retention import RETENTION

    assert set(sweeps.SWEEPS) == {rule.setting for rule in RETENTION}
    _event, (with_needs, _) = _event_with_needs(session)
    erased = sweeps.erase_expired_data(session, now=ENDS + timedelta(days=31))
    session.commit()
    assert erased["ACCESSIBILITY_NEEDS_RETENTION_DAYS"] == 1
    assert session.get(Registration, with_needs.id).accessibility_needs == ""
