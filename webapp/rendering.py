"""One template per page: the whole page, or one named block of it for an htmx request."""

from __future__ import annotations

from flask import redirect, render_template, request
from htmx_flask import make_response
from jinja2_fragments.flask import render_block


def wants_fragment() -> bool:
    """htmx swaps a fragment, except for boosted links and history restores, which need the page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, block: str | None = None, *, status: int = 200, **context):
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def form_status(status: int) -> int:
    """htmx swaps only 2xx responses; a fragment carries its problem in its words instead."""
    return 200 if wants_fragment() else status


def no_store(response):
    """Pages about one member or one link: never kept by a shared cache or the back button."""
    response.headers["Cache-Control"] = "no-store"
    return response


def go_to(url: str):
    """A redirect after a POST that also works for htmx (which would swap the page in place)."""
    if wants_fragment():
        return make_response("", 200, redirect=url)
    return redirect(url, code=303)
