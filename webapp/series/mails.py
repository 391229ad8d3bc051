"""The one mail a whole-series registration (or cancelling all of it) sends, listing each session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from webapp.display import format_mail_when
from webapp.events.calendar import event_url
from webapp.events.models import Event
from webapp.groups.services import reply_to_organizers
from webapp.outbox.templated import queue_templated_mail
from webapp.series.models import SeriesRegistration
from webapp.urls import absolute_url


def _listed(events: list[Event]) -> list[dict]:
    return [dict(title=e.title, when=format_mail_when(e.starts_at, e.ends_at), url=event_url(e)) for e in events]


def series_mail_context(record: SeriesRegistration, action: str, *, confirmed=(), waitlisted=(), cancelled=()) -> dict:
    series = record.series
    return dict(
        member=record.user, series=series, action=action,
        confirmed=_listed(list(confirmed)), waitlisted=_listed(list(waitlisted)), cancelled=_listed(list(cancelled)),
        series_url=absolute_url("series.detail", slug=series.slug),
        calendar_url=absolute_url("series.calendar", slug=series.slug),
        my_events_url=absolute_url("registrations.my_events"),
    )


def queue_series_mail(session: Session, record: SeriesRegistration, action: str, *, now: datetime,
                      confirmed=(), waitlisted=(), cancelled=()) -> None:
    """"registered" (with each session's seat or place in line) or "cancelled"; once per
    (re)registration: the dedup key carries its generation."""
    queue_templated_mail(
        session, kind="series_registration", to=record.user.email,
        context=series_mail_context(record, action, confirmed=confirmed, waitlisted=waitlisted, cancelled=cancelled),
        dedup_key=f"series-registration:{record.id}:{record.generation}:{action}",
        reply_to=reply_to_organizers(session, record.series.group_id), now=now,
    )
