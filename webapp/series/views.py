"""The series blueprint: a series' page (its sessions, seats left, the member's place in each),
registering for all sessions or cancelling all the rest in one step, and its calendar feed."""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from flask_login import current_user, login_required

from webapp.db import db, utcnow
from webapp.display import format_short_date, plural, site_zone
from webapp.events.calendar import feed_ics
from webapp.guards import REGISTRATION_CHANGES, check_limit, current_member
from webapp.refusals import Refusal
from webapp.rendering import no_store, render
from webapp.series import services
from webapp.series.recurrence import describe_rule, session_count

bp = Blueprint("series", __name__)


@bp.app_template_global()
def series_of_events(events):
    """The group page's "Series" list, from the upcoming events it shows anyway."""
    return services.series_of_events(db.session, events)


def _series_or_404(slug: str):
    series = services.get_series_by_slug(db.session, slug)
    if series is None:
        abort(404)
    return series


def summary_of(outcome: services.SeriesOutcome) -> str:
    """What the member reads after Register for all: "Registered for 6 sessions; waitlisted for 2 (full): …"."""
    if not outcome.changed:
        return "You are already registered for this series."
    words = [f"Registered for {plural(len(outcome.confirmed), 'session')}"]
    if outcome.waitlisted:
        days = ", ".join(format_short_date(e.starts_at) for e in outcome.waitlisted)
        words.append(f"waitlisted for {len(outcome.waitlisted)} (full): {days}")
    return "; ".join(words) + ". We emailed you the list."


def _page(series, *, status: int = 200, notice: str | None = None, error: str | None = None):
    member = current_member() if current_user.is_authenticated else None
    rows = services.session_rows(db.session, series, member, now=utcnow())
    record = services.series_registration_for(db.session, series.id, member.id) if member else None
    open_rows = [row for row in rows if row.event.status == "scheduled" and row.event.starts_at > utcnow()]
    response = render(
        "series/detail.html", "series_panel", status=status, series=series, rows=rows, record=record,
        notice=notice, error=error, rule_words=describe_rule(series.rrule, series.first_on),
        total_sessions=session_count(services.recurrence_of(series)), open_count=len(open_rows),
        later_count=services.later_session_count(db.session, series, now=utcnow()),
        slot_offers=services.series_slot_offers(db.session, series.id),
        has_upcoming_registration=any(row.registration is not None and row.registration.is_active for row in open_rows),
    )
    return no_store(response) if member else response


@bp.get("/series/<slug>")
def detail(slug: str):
    return _page(_series_or_404(slug))


def _change(slug: str, action):
    series = _series_or_404(slug)
    try:
        check_limit(REGISTRATION_CHANGES, current_user.id)
        outcome = action(db.session, series.id, member=current_member(), now=utcnow())
    except Refusal as refusal:
        db.session.rollback()
        return _page(_series_or_404(slug), status=refusal.status, error=refusal.message)
    db.session.commit()
    return outcome


@bp.post("/series/<slug>/register")
@login_required
def register_all(slug: str):
    outcome = _change(slug, services.register_for_series)
    if not isinstance(outcome, services.SeriesOutcome):
        return outcome
    return _page(_series_or_404(slug), notice=summary_of(outcome))


@bp.post("/series/<slug>/cancel")
@login_required
def cancel_all(slug: str):
    outcome = _change(slug, services.cancel_series_registration)
    if not isinstance(outcome, services.SeriesOutcome):
        return outcome
    notice = ("You weren’t registered for any session still ahead." if not outcome.changed else
              f"Cancelled {plural(len(outcome.cancelled), 'session')}. New sessions won’t register you.")
    return _page(_series_or_404(slug), notice=notice)


@bp.get("/series/<slug>/calendar.ics")
def calendar(slug: str):
    """Every session, as a calendar to subscribe to: the same entries (UIDs) as each event's own file."""
    series = _series_or_404(slug)
    events = services.sessions_of(db.session, series.id)
    response = current_app.response_class(
        feed_ics(events, name=f"{series.title} · {current_app.config['SITE_NAME']}", zone=site_zone()),
        mimetype="text/calendar")
    response.headers["Cache-Control"] = "no-cache"
    return response

