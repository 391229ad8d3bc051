"""`flask groups add-organizer SLUG EMAIL`."""

from __future__ import annotations

from sqlalchemy import select

from tests.factories import create_group, create_user
from webapp.accounts.models import User
from webapp.groups.models import GroupOrganizer
from webapp.groups.services import is_group_organizer


def organizers(session, group):
    session.expire_all()
    return list(session.scalars(select(GroupOrganizer).where(GroupOrganizer.group_id == group.id)))


def test_add_organizer_creates_the_account_and_the_organizer(app, session):
    group = create_group(slug="metadata")
    session.commit()
    result = app.test_cli_runner().invoke(args=["groups", "add-organizer", "metadata", " New@Example.org "])
    assert result.exit_code == 0, result.output
    assert "new@example.org is now an organizer" in result.output and "new account" in result.output
    user = session.scalar(select(User).where(User.email == "new@example.org"))
    assert user is not None and is_group_organizer(user, group)
    assert len(organizers(session, group)) == 2


def test_add_organizer_links_an_invited_row_and_is_safe_to_repeat(app, session):
    group = create_group(slug="metadata")
    group.organizers.append(GroupOrganizer(name="Grace", email="grace@example.org", position=1))
    user = create_user(email="grace@example.org")
    session.commit()
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["groups", "add-organizer", "metadata", "grace@example.org"])
        assert result.exit_code == 0 and "already an organizer" in result.output
    rows = [row for row in organizers(session, group) if row.email == "grace@example.org"]
    assert len(rows) == 1 and rows[0].user_id == user.id


def test_add_organizer_explains_an_unknown_slug_or_a_bad_address(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["groups", "add-organizer", "nope", "a@example.org"])
    assert result.exit_code != 0 and "no group with the slug “nope”" in result.output
    result = runner.invoke(args=["groups", "add-organizer", "nope", "not-an-address"])
    assert result.exit_code != 0 and "EMAIL" in result.output
    assert session.scalar(select(User)) is None
