"""The series sweep: each series' sessions made up to the horizon, run by the scheduler."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.series import services


@shared_task(name="tasks.series.materialize_series")
def materialize_series() -> int:
    made = services.materialize_all(db.session, now=utcnow())
    db.session.commit()
    return made
