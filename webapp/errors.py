"""Error pages in the site's style, with the right status codes."""

from __future__ import annotations

import logging

from flask import Flask
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.db import db
from webapp.rendering import render, wants_fragment
from webapp.requests import CONTROL_CHARACTERS, BadCharacters

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    403: ("You can’t do that here", "This page or action is not open to your account."),
    404: ("We couldn’t find that page", "It may have moved, or the address may be mistyped."),
    405: ("That action isn’t available here", "Please go back and use the buttons on the page."),
    429: ("Please slow down", "You have tried this too often. Wait a little and try again."),
    500: ("Something went wrong on our side", "We have been told. Please try again in a minute."),
}


# Form fields that carry no writing of the person's own.
_NOT_TYPED = {"csrf_token", "client_key", "expected_state", "action", "audience", "q", "next", "send", "format"}


def _typed_text(form) -> list[tuple[str, str]]:
    """What a refused form carried that someone wrote (longer text), to show back for copying.

    Only ever echoed as read-only text: re-sending it from here would let another site's form
    through with one click, which is what the CSRF check exists to stop.
    """
    typed = []
    for name, value in form.items(multi=True):
        value = CONTROL_CHARACTERS.sub("", value)  # a refused request's values are not cleaned yet
        if name in _NOT_TYPED or not value.strip() or len(value.strip()) < 20:
            continue
        typed.append((name.replace("_", " ").replace("-", " ").capitalize(), value[:20_000]))
    return typed[:12]



def _in_place(response):
    """htmx would drop a 4xx silently: show the explanation in place of the page's content."""
    if wants_fragment():
        response.status_code = 200
        response.headers["HX-Retarget"] = "#main > .wrap"
        response.headers["HX-Reswap"] = "innerHTML show:window:top"
    return response


def _page(status: int, detail: str | None = None, *, typed=()):
    title, text = MESSAGES.get(status, (f"Error {status}", ""))
    return render(
        "errors/error.html", "content", status=status, code=status, title=title,
        text=detail or text, typed=typed,
    )


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        from flask import request

        # Long forms register a rescue that shows them again with what was typed.
        rescue = app.extensions.get("csrf_rescue", {}).get(request.endpoint)
        if rescue is not None:
            db.session.rollback()
            return rescue()
        response = _page(
            400,
            "This form had expired or came from somewhere else, so nothing was changed. "
            "Please reload the page and try again.",
            typed=_typed_text(request.form),
        )
        return _in_place(response)

    @app.errorhandler(BadCharacters)
    def bad_characters(error: BadCharacters):
        from flask import request

        # Raised before any view ran: nothing was written. What was typed is shown for copying.
        db.session.rollback()
        typed = _typed_text(request.form) if request.method == "POST" else ()
        detail = f"{error.description} Nothing was changed. Please remove it and try again."
        return _in_place(_page(400, detail, typed=typed))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        db.session.rollback()
        return _page(error.code)

    @app.errorhandler(InternalServerError)
    def server_error(error):
        db.session.rollback()
        log.exception("unhandled error", exc_info=getattr(error, "original_exception", error))
        return _page(500)
