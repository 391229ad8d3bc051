"""Expected refusals: domain services raise them, views turn them into a page or a fragment."""

from __future__ import annotations


class Refusal(Exception):
    """A refusal with a message fit for a person and the HTTP status a view answers with."""

    default_status = 409

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status or self.default_status
