"""`flask groups add-organizer SLUG EMAIL`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.accounts.services import email_problem
from webapp.db import db, utcnow
from webapp.groups.services import add_organizer, get_group_by_slug

groups_cli = AppGroup("groups", help="Meetup groups and their organizers.")


@groups_cli.command("add-organizer")
@click.argument("slug")
@click.argument("email")
def add_organizer_command(slug: str, email: str) -> None:
    """Make the account for EMAIL (made now if needed) an organizer of the group SLUG."""
    if problem := email_problem(email):
        raise click.BadParameter(problem, param_hint="EMAIL")
    group = get_group_by_slug(db.session, slug)
    if group is None:
        raise click.ClickException(f"There is no group with the slug “{slug}”. See /groups for the list.")
    added = add_organizer(db.session, group, email, now=utcnow())
    db.session.commit()
    who = added.organizer.email
    if added.organizer_created:
        made = " (a new account was made for them)" if added.user_created else ""
        click.echo(f"{who} is now an organizer of {group.name}{made}.")
    else:
        click.echo(f"{who} was already an organizer of {group.name}; their account is linked.")
