"""`flask users grant-role` and `flask users revoke-role`."""

from __future__ import annotations

from tests.factories import create_user
from webapp.accounts.models import Role
from webapp.accounts.services import find_user


def run(app, *args):
    return app.test_cli_runner().invoke(args=["users", *args])


def test_grant_role_creates_the_account_when_missing(app, session):
    result = run(app, "grant-role", "Grace@Example.org", "staff")

    assert result.exit_code == 0, result.output
    assert "grace@example.org now has the staff role." in result.output
    session.expire_all()
    grace = find_user(session, "grace@example.org")
    assert grace.has_role(Role.STAFF) and grace.display_name is None


def test_grant_role_twice_changes_nothing(app, session):
    create_user(email="grace@example.org", roles=[Role.ADMIN])
    session.commit()
    result = run(app, "grant-role", "grace@example.org", "ADMIN")
    assert result.exit_code == 0 and "already had the admin role" in result.output


def test_revoke_role(app, session):
    create_user(email="grace@example.org", roles=[Role.REVIEWER, Role.STAFF])
    session.commit()

    result = run(app, "revoke-role", "grace@example.org", "reviewer")

    assert result.exit_code == 0 and "no longer has the reviewer role" in result.output
    session.expire_all()
    grace = find_user(session, "grace@example.org")
    assert not grace.has_role(Role.REVIEWER) and grace.has_role(Role.STAFF)
    assert "did not have" in run(app, "revoke-role", "nobody@example.org", "staff").output


def test_an_unknown_role_is_refused_with_the_choices(app, session):
    result = run(app, "grant-role", "grace@example.org", "superuser")
    assert result.exit_code != 0
    assert "'superuser' is not one of 'reviewer', 'staff', 'admin'" in result.output
    assert find_user(session, "grace@example.org") is None


def test_a_malformed_address_is_refused(app, session):
    result = run(app, "grant-role", "grace", "staff")
    assert result.exit_code != 0 and "Enter an email address like" in result.output
