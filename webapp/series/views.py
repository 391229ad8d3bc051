"""The series blueprint: a series' page (its sessions, seats left, the member's place in each),
registering for all sessions or cancelling all the rest in one step, and its calendar feed."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user, login_required

from webapp.db import db, utcnow
from webapp.display import format_short_date, plural, site_zone
from webapp.events.calendar import feed_ics
from webapp.feeds.services import series_feed_state
from webapp.feeds.views import CALENDAR_TYPE, answer_feed
from webapp.groups.services import is_group_organizer
from webapp.guards import REGISTRATION_CHANGES, check_limit, current_member, require_organizer
from webapp.refusals import Refusal, place_on_form
from webapp.registrations.views import TYPED_MAX, register_by_mail
from webapp.rendering import form_status, no_store, render
from webapp.requests import cleaned_error
from webapp.series import schedule, services
from webapp.series.forms import ENDS, ScheduleForm, SlotDefaultForm, today_in
from webapp.series.models import Series
from webapp.series.recurrence import KINDS, describe_rule, session_count
from webapp.slots.services import SlotError

bp = Blueprint("series", __name__)
ID_MAX = 2**31 - 1  # an id column's range: a larger id in an intent finds nothing


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


def _page(series, *, status: int = 200, notice: str | None = None, error: str | None = None, **typed):
    """`typed`: the Register for all form as sent back (the needs, a signed-out visitor's address and
    name, their errors), or what a sent sign-in link says (`sent_to`, `needs_kept`, `throttled`)."""
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
        is_organizer=member is not None and is_group_organizer(member, series.group),
        **typed,
    )
    return no_store(response) if member else response


@bp.get("/series/<slug>")
def detail(slug: str):
    return _page(_series_or_404(slug))


def _change(slug: str, action, **kwargs):
    series = _series_or_404(slug)
    try:
        check_limit(REGISTRATION_CHANGES, current_user.id)
        outcome = action(db.session, series.id, member=current_member(), now=utcnow(), **kwargs)
    except Refusal as refusal:
        db.session.rollback()
        if refusal.field == "accessibility_needs":
            # Too long: the message goes next to the box, which keeps everything that was typed.
            return _page(_series_or_404(slug), status=form_status(refusal.status), needs_error=refusal.message,
                         accessibility_needs=kwargs["accessibility_needs"][:TYPED_MAX])
        return _page(_series_or_404(slug), status=refusal.status, error=refusal.message,
                     accessibility_needs=kwargs.get("accessibility_needs", "")[:TYPED_MAX])
    db.session.commit()
    return outcome


@bp.post("/series/<slug>/register")
def register_all(slug: str):
    accessibility_needs = request.form.get("accessibility_needs", "")
    if not current_user.is_authenticated:
        return _register_all_by_mail(_series_or_404(slug), accessibility_needs)
    if needs_error := cleaned_error("accessibility_needs"):
        # An invisible character came out of the needs: they see what is left before anything is saved.
        return _page(_series_or_404(slug), status=form_status(422), needs_error=needs_error,
                     accessibility_needs=accessibility_needs[:TYPED_MAX])
    outcome = _change(slug, services.register_for_series, accessibility_needs=accessibility_needs)
    if not isinstance(outcome, services.SeriesOutcome):
        return outcome
    return _page(_series_or_404(slug), notice=summary_of(outcome))


def _register_all_by_mail(series, accessibility_needs: str):
    """Signed out: as on an event page, the form also asked for the address (and a name), so Register
    for all mails the sign-in link at once, with the "series:<id>" intent."""
    return register_by_mail(f"series:{series.id}", url_for("series.detail", slug=series.slug),
                            accessibility_needs, answer=lambda **context: _page(series, **context))


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
    """Every session, as a calendar to subscribe to: the same entries (UIDs) as each event's own file.
    Answered like the group feeds: 304 from one aggregate query while the client's copy is current."""
    series = _series_or_404(slug)
    return answer_feed(
        series_feed_state(db.session, series, now=utcnow()), CALENDAR_TYPE,
        lambda: feed_ics(services.sessions_of(db.session, series.id),
                         name=f"{series.title} · {current_app.config['SITE_NAME']}", zone=site_zone()))


# --- the sign-in intent: Register for all pressed while signed out -----------------------------------

def _intent_series(argument: str):
    if not (argument.isascii() and argument.isdigit() and 0 < int(argument or "0") <= ID_MAX):
        return None
    return db.session.get(Series, int(argument))


def register_all_after_sign_in(member, argument: str, *, now, note: str | None = None) -> None:
    """Register for all pressed while signed out: done once the emailed link is followed, with the
    accessibility needs typed then (`note`, kept with the sign-in request)."""
    series = _intent_series(argument)
    if series is None:
        return
    try:
        with db.session.begin_nested():
            services.register_for_series(db.session, series.id, member=member, accessibility_needs=note or "",
                                         now=now)
    except Refusal:
        pass  # the series page shows what is open when they land on it


def describe_register_all_intent(argument: str) -> str | None:
    series = _intent_series(argument)
    return f"finish registering for every session of {series.title}" if series is not None else None


# --- the organizers' side: managing a series after it was made ---------------------------------------

def _organized_series_or_404(slug: str):
    """The series of the URL, for its group's organizers only (sign in first, or 403)."""
    series = _series_or_404(slug)
    require_organizer(series.group)
    return series


def _manage_page(series, *, status: int = 200, notice: str | None = None, outcome=None, typed=None):
    """`typed`: the slot form sent back with its errors, by offer id (None: the Add form)."""
    typed = typed or {}
    offers = services.series_slot_offers(db.session, series.id)
    forms = {str(o.id): typed.get(str(o.id)) or SlotDefaultForm(formdata=None, obj=o) for o in offers}
    return no_store(render(
        "series/manage.html", "slot_defaults", status=form_status(status), series=series, notice=notice,
        outcome=outcome, rule_words=describe_rule(series.rrule, series.first_on),
        total_sessions=session_count(services.recurrence_of(series)), slot_offers=offers, forms=forms,
        add_form=typed.get(None) or SlotDefaultForm(formdata=None)))


@bp.get("/series/<slug>/manage")
def manage(slug: str):
    return _manage_page(_organized_series_or_404(slug))


def _slot_change(slug: str, action, form: SlotDefaultForm | None, *, offer_id=None, verb: str):
    series = _organized_series_or_404(slug)
    try:
        fields = dict(label=form.label.data, minutes=form.minutes.data, how_many=form.how_many.data) if form else {}
        outcome = action(series.id, **fields)
    except SlotError as error:
        db.session.rollback()
        series = _series_or_404(slug)
        if form is None:
            return _manage_page(series, status=error.status, notice=error.message)
        return _manage_page(series, status=error.status, notice=place_on_form(form, error),
                            typed={offer_id: form})
    db.session.commit()
    return _manage_page(_series_or_404(slug), notice=verb, outcome=outcome)


@bp.post("/series/<slug>/slots")
def add_slot_default(slug: str):
    def add(series_id, **fields):
        offer = services.offer_series_slots(db.session, series_id, **fields, now=utcnow())
        return services.SlotDefaultsOutcome(offer)
    return _slot_change(slug, add, SlotDefaultForm(), verb="Slots added: the sessions ahead with no slots of "
                                                             "their own offer them too.")


@bp.post("/series/<slug>/slots/<offer_id>")
def edit_slot_default(slug: str, offer_id: str):
    return _slot_change(slug, lambda series_id, **fields: services.edit_series_slots(
        db.session, series_id, offer_id, **fields, now=utcnow()), SlotDefaultForm(), offer_id=offer_id,
        verb="Slots changed.")


@bp.post("/series/<slug>/slots/<offer_id>/remove")
def remove_slot_default(slug: str, offer_id: str):
    return _slot_change(slug, lambda series_id: services.remove_series_slots(
        db.session, series_id, offer_id, now=utcnow()), None, verb="Slots removed.")


def _schedule_page(series, form: ScheduleForm, *, status: int = 200, plan=None, done=None,
                   notice: str | None = None):
    return no_store(render(
        "series/schedule.html", "schedule_form", status=form_status(status), series=series, form=form, plan=plan,
        done=done, notice=notice, kinds=KINDS, ends=ENDS, rule_words=describe_rule(series.rrule, series.first_on),
        total_sessions=session_count(services.recurrence_of(series)),
        version=schedule.version_token(series), action_url=url_for("series.change_schedule", slug=series.slug)))


@bp.route("/series/<slug>/schedule", methods=["GET", "POST"])
def change_schedule(slug: str):
    """Change schedule in two steps that work without JavaScript: the form shows what would happen
    (step "preview"), then the same values come back with step "confirm" and the version seen."""
    series = _organized_series_or_404(slug)
    now = utcnow()
    today = today_in(now, site_zone())
    if request.method == "GET":
        form = ScheduleForm.of(series, schedule.next_session_day(db.session, series, now=now), today=today)
        return _schedule_page(series, form)
    form = ScheduleForm(today=today)
    step = request.form.get("step", "preview")
    if not form.validate():
        return _schedule_page(series, form, status=422)
    change = form.schedule_change()
    try:
        if step != "confirm":  # "preview", and "edit" coming back to the form
            plan = schedule.plan_schedule(db.session, series, change, now=now)
            return _schedule_page(series, form, plan=plan if step == "preview" else None)
        done = schedule.change_schedule(db.session, series.id, change, actor=current_member(), now=now,
                                        seen_version=request.form.get("version", "")[:40])
    except services.SeriesError as error:
        db.session.rollback()
        series = _series_or_404(slug)
        if error.status == 409:  # changed since the confirm page: show what would happen now
            try:
                plan = schedule.plan_schedule(db.session, series, change, now=now)
                return _schedule_page(series, form, status=409, plan=plan, notice=error.message)
            except services.SeriesError as now_refused:
                error = now_refused
        return _schedule_page(series, form, status=error.status, notice=place_on_form(form, error))
    db.session.commit()
    return _schedule_page(_series_or_404(slug), form, done=done)
