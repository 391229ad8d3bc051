"""`--update-golden` rewrites the checked-in mails in tests/mail/golden/ instead of comparing with them.

Run it from this folder's path (pytest reads a sub-folder's options only when it starts there):
    .venv/bin/pytest tests/mail --update-golden
then review the diff of tests/mail/golden/ like any other change.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/mail/golden/ from the templates instead of comparing")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
