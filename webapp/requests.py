"""Characters no request may carry: one check before any view, so no view (or database) sees them.

PostgreSQL refuses a NUL byte in text outright, so a NUL in the path, a query value or a form
field would otherwise end in a 500 wherever it reached a query. Other C0 control characters
(anything below a space but tab, CR and LF, and DEL) have no place in anything a person types
either. Werkzeug already decodes invalid UTF-8 (`%ff`) to U+FFFD, so that needs nothing here.

What a person typed into a form is not refused, though: a 400 page would lose the form. The
values are cleaned before any view reads them, the names of the fields that were are kept for the
request (`cleaned_fields`), and the form comes back with the cleaned text and an error on each
(webapp/forms.py for the WTForms forms). The path, field names, the query string and htmx's
headers are still refused: nobody types those.
"""

from __future__ import annotations

import re

from flask import Flask, has_request_context, request
from werkzeug.exceptions import BadRequest

# NUL alone in the path and in names; in values also the other C0 controls but tab, CR and LF.
_NUL = re.compile("\x00")
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Headers htmx fills from the page (ids, names, the current address, a prompt's answer).
HTMX_HEADERS = ("HX-Current-URL", "HX-Target", "HX-Trigger", "HX-Trigger-Name", "HX-Prompt")
# No link or form of ours needs a longer query value; a longer one is refused, not searched.
QUERY_VALUE_MAX = 2000
# The methods whose body Werkzeug reads as request.form (and Flask-WTF treats as submitted).
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Where the cleaned fields' names are kept: with the request (its WSGI environ), not on `g`, which an
# app context (a test's, a CLI's) can keep across many requests.
_CLEANED = "webapp.cleaned_fields"

NUL_MESSAGE = "The address or form contained a character we can’t accept (a NUL byte)."
CONTROL_MESSAGE = ("The address or form contained a character we can’t accept (an invisible control "
                   "character, perhaps from copying and pasting).")
TOO_LONG_MESSAGE = "The address was too long for us to read. Please go back and try a shorter search."
# Next to a field whose value was cleaned: the form comes back, nothing is saved until it is sent again.
CLEANED_MESSAGE = ("This contained an invisible character we can’t keep (perhaps from copying and pasting). "
                   "We removed it: please check the text and send it again.")


class BadCharacters(BadRequest):
    """A 400 whose description says what was wrong; errors.py shows it in the site's page."""


def _problem() -> str | None:
    """What is wrong with this request's characters, or None when nothing is (form values aside)."""
    if _NUL.search(request.path):
        return NUL_MESSAGE
    worst = None
    for name, value in request.args.items(multi=True):
        if _NUL.search(name) or _NUL.search(value):
            return NUL_MESSAGE
        if CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value):
            worst = CONTROL_MESSAGE
    if request.method in BODY_METHODS:
        for name in request.form:
            if _NUL.search(name):
                return NUL_MESSAGE
            if CONTROL_CHARACTERS.search(name):
                worst = CONTROL_MESSAGE
    if request.method in BODY_METHODS and request.is_json and _has_control_characters(request.get_json(silent=True)):
        # Flask-WTF reads a JSON body as the form; no page of ours sends one, so none is cleaned.
        return CONTROL_MESSAGE
    for header in HTMX_HEADERS:
        value = request.headers.get(header)
        if value and CONTROL_CHARACTERS.search(value):
            return NUL_MESSAGE if _NUL.search(value) else CONTROL_MESSAGE
    if worst is None and any(len(value) > QUERY_VALUE_MAX for value in request.args.values()):
        worst = TOO_LONG_MESSAGE
    return worst


def _has_control_characters(data) -> bool:
    if isinstance(data, str):
        return bool(CONTROL_CHARACTERS.search(data))
    if isinstance(data, dict):
        return any(_has_control_characters(key) or _has_control_characters(value) for key, value in data.items())
    if isinstance(data, list):
        return any(_has_control_characters(value) for value in data)
    return False


def _clean_form_values() -> None:
    """Put a copy of the form without control characters in its values in request.form's place."""
    if request.method not in BODY_METHODS:
        return
    form = request.form
    cleaned = {name for name, value in form.items(multi=True) if CONTROL_CHARACTERS.search(value)}
    if not cleaned:
        return
    # request.form is a cached property (Werkzeug keeps the parsed body in the instance's __dict__),
    # so setting it replaces the parsed form for everyone who reads it after: Flask-WTF, CSRF, views.
    request.form = type(form)(
        (name, CONTROL_CHARACTERS.sub("", value)) for name, value in form.items(multi=True))
    request.__dict__.pop("values", None)  # request.values combines args and form: built again from the copy
    request.environ[_CLEANED] = frozenset(cleaned)


def cleaned_fields() -> frozenset[str]:
    """The names of this request's form fields whose values lost a control character."""
    return request.environ.get(_CLEANED, frozenset()) if has_request_context() else frozenset()


def cleaned_error(*names: str) -> str | None:
    """CLEANED_MESSAGE if any of these fields was cleaned, for a form that is not a WTForms form."""
    return CLEANED_MESSAGE if cleaned_fields().intersection(names) else None


def refuse_bad_characters() -> None:
    if problem := _problem():
        raise BadCharacters(problem)
    _clean_form_values()


def register(app: Flask) -> None:
    # First of all before-request hooks: before the CSRF check, the page cache and any view.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_bad_characters)
