"""Characters no request may carry: one check before any view, so no view (or database) sees them.

PostgreSQL refuses a NUL byte in text outright, so a NUL in the path, a query value or a form
field would otherwise end in a 500 wherever it reached a query. Other C0 control characters
(anything below a space but tab, CR and LF, and DEL) have no place in anything a person types
either. Werkzeug already decodes invalid UTF-8 (`%ff`) to U+FFFD, so that needs nothing here.
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest

# NUL alone in the path and in names; in values also the other C0 controls but tab, CR and LF.
_NUL = re.compile("\x00")
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Headers htmx fills from the page (ids, names, the current address, a prompt's answer).
HTMX_HEADERS = ("HX-Current-URL", "HX-Target", "HX-Trigger", "HX-Trigger-Name", "HX-Prompt")
# No link or form of ours needs a longer query value; a longer one is refused, not searched.
QUERY_VALUE_MAX = 2000

NUL_MESSAGE = "The address or form contained a character we can’t accept (a NUL byte)."
CONTROL_MESSAGE = ("The address or form contained a character we can’t accept (an invisible control "
                   "character, perhaps from copying and pasting).")
TOO_LONG_MESSAGE = "The address was too long for us to read. Please go back and try a shorter search."


class BadCharacters(BadRequest):
    """A 400 whose description says what was wrong; errors.py shows it in the site's page."""


def _problem() -> str | None:
    """What is wrong with this request's characters, or None when nothing is."""
    if _NUL.search(request.path):
        return NUL_MESSAGE
    worst = None
    sources = [request.args]
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        sources.append(request.form)
    for source in sources:
        for name, value in source.items(multi=True):
            if _NUL.search(name) or _NUL.search(value):
                return NUL_MESSAGE
            if CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value):
                worst = CONTROL_MESSAGE
    for header in HTMX_HEADERS:
        value = request.headers.get(header)
        if value and CONTROL_CHARACTERS.search(value):
            return NUL_MESSAGE if _NUL.search(value) else CONTROL_MESSAGE
    if worst is None and any(len(value) > QUERY_VALUE_MAX for value in request.args.values()):
        worst = TOO_LONG_MESSAGE
    return worst


def refuse_bad_characters() -> None:
    if problem := _problem():
        raise BadCharacters(problem)


def register(app: Flask) -> None:
    # First of all before-request hooks: before the CSRF check, the page cache and any view.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_bad_characters)
