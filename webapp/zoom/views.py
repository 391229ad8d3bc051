"""The staff's Zoom page, a sibling of the outbox's: every Zoom task's state, Zoom's answer, a retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from flask import Blueprint, abort, current_app, jsonify, redirect, request, url_for
from flask_login import current_user

from webapp.db import db, utcnow
from webapp.extensions import csrf
from webapp.guards import require_staff
from webapp.rendering import render
from webapp.zoom import services
from webapp.zoom.attendance import record_participant_event

bp = Blueprint("zoom", __name__)


@bp.app_context_processor
def _zoom_meeting_status():
    """`zoom_meeting_status(event)` for the event page's organizer tools: asked only for organizers."""
    return {"zoom_meeting_status": lambda event: services.meeting_status(db.session, event)}


def _staff_only() -> None:
    require_staff(sign_in_first=False)  # nobody else learns the page exists


@bp.get("/outbox/zoom")
def index():
    _staff_only()
    return render("zoom/intents.html", overview=services.intents_overview(db.session), error=None)


@bp.post("/outbox/zoom/<int:intent_id>/retry")
def retry(intent_id: int):
    _staff_only()
    try:
        services.retry_intent(db.session, intent_id, actor=current_user, now=utcnow())
    except services.IntentError as error:
        db.session.rollback()
        return render("zoom/intents.html", status=error.status, overview=services.intents_overview(db.session),
                      error=error.message)
    db.session.commit()  # the commit hands it to a worker
    return redirect(url_for("zoom.index"), code=303)


# --- Zoom's webhook ----------------------------------------------------------------------------------

WEBHOOK_MAX_BYTES = 64 * 1024
# A signed request older than this is refused: a recorded delivery can't be replayed days later.
WEBHOOK_MAX_AGE_SECONDS = 300
PARTICIPANT_EVENTS = {"meeting.participant_joined": False, "meeting.participant_left": True}


def _signature_ok(secret: str, body: bytes) -> bool:
    """x-zm-signature is "v0=" + HMAC-SHA256(secret, "v0:{x-zm-request-timestamp}:{raw body}"), hex."""
    stamp = request.headers.get("x-zm-request-timestamp", "")
    given = request.headers.get("x-zm-signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > WEBHOOK_MAX_AGE_SECONDS:
        return False
    expected = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


@bp.post("/zoom/webhook")
@csrf.exempt  # Zoom signs its requests instead (checked below); it has no session to carry a token
def webhook():
    secret = current_app.config.get("ZOOM_WEBHOOK_SECRET")
    if not secret:
        abort(404)  # no subscription configured: the address does not exist
    if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
        abort(413)
    body = request.get_data(cache=False)[:WEBHOOK_MAX_BYTES + 1]
    if len(body) > WEBHOOK_MAX_BYTES:
        abort(413)
    if not _signature_ok(secret, body):
        return jsonify(error="bad signature"), 401
    try:
        payload = json.loads(body)
        kind, data = payload["event"], payload.get("payload") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return jsonify(error="not a Zoom event"), 400
    if not isinstance(kind, str) or not isinstance(data, dict):
        return jsonify(error="not a Zoom event"), 400
    if kind == "endpoint.url_validation":
        # Zoom's challenge: the plain token back, with its HMAC-SHA256 under the same secret.
        plain = str(data.get("plainToken", ""))
        return jsonify(plainToken=plain,
                       encryptedToken=hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest())
    if kind in PARTICIPANT_EVENTS:
        meeting = data.get("object") or {}
        participant = meeting.get("participant") if isinstance(meeting, dict) else None
        if isinstance(participant, dict) and meeting.get("id"):
            record_participant_event(db.session, str(meeting["id"]), participant, left=PARTICIPANT_EVENTS[kind])
            db.session.commit()
    return jsonify(ok=True)  # anything else Zoom sends is acknowledged and ignored
