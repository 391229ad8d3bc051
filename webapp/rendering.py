"""One template per page: the whole page, or one named block of it for an htmx request."""

from __future__ import annotations

from flask import render_template, request
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
