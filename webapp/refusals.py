"""Expected refusals: domain services raise them, views turn them into a page or a fragment."""

from __future__ import annotations


class Refusal(Exception):
    """A refusal with a message fit for a person and the HTTP status a view answers with.

    `field`: the form field the message belongs next to, when it is about one (see `place_on_form`).
    """

    default_status = 409

    def __init__(self, message: str, status: int | None = None, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status or self.default_status
        self.field = field


class FormRefusal(Refusal):
    """A change typed into a form refused by the domain's rules (422 unless said otherwise).

    Groups' and organizers' services raise it under their own names (GroupError, OrganizeError).
    """

    default_status = 422

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None):
        super().__init__(message, status, field=field)


def place_on_form(form, refusal: Refusal) -> str | None:
    """Put the refusal's message next to its field; return it when it belongs to the whole form instead."""
    target = getattr(form, refusal.field, None) if refusal.field else None
    if target is None:
        return refusal.message
    target.errors = [*target.errors, refusal.message]
    return None
