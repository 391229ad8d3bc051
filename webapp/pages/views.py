"""Home, About, and the health check."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, current_app
from sqlalchemy import text

from webapp.db import db, utcnow
from webapp.display import markdown
from webapp.events.services import upcoming_events
from webapp.groups.services import list_groups
from webapp.privacy.retention import RETENTION
from webapp.rendering import render

bp = Blueprint("pages", __name__)

ABOUT_FILE = Path(__file__).resolve().parent.parent / "seed" / "about.md"


@bp.get("/")
def home():
    now = utcnow()
    listings = [item for item in list_groups(db.session, now=now, with_organizers=False) if item.group.is_active]
    return render(
        "pages/home.html",
        events=upcoming_events(db.session, now=now, limit=6),
        listings=listings,
    )


@cache
def _about_html():
    return markdown(ABOUT_FILE.read_text(encoding="utf-8"))


@bp.get("/about")
def about():
    return render("pages/about.html", body=_about_html())


@bp.get("/privacy")
def privacy():
    """What the site keeps and for how long, from the same table the erasing sweeps read."""
    kept = [(rule, rule.period(current_app.config[rule.setting])) for rule in RETENTION]
    return render("pages/privacy.html", kept=kept)


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/hello")
def hello():
    """A bare view the benchmark compares every page against (only with BENCH_HELLO=1)."""
    if not current_app.config["BENCH_HELLO"]:
        from flask import abort

        abort(404)
    return "Hello"
