"""`flask users grant-role EMAIL ROLE` and `flask users revoke-role EMAIL ROLE`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.accounts import services
from webapp.accounts.models import Role, normalize_email
from webapp.db import db, utcnow

users_cli = AppGroup("users", help="Member accounts and their roles.")

ROLE_CHOICE = click.Choice([role.value for role in Role], case_sensitive=False)


def _email(value: str) -> str:
    if problem := services.email_problem(value):
        raise click.BadParameter(problem, param_hint="EMAIL")
    return normalize_email(value)


@users_cli.command("grant-role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def grant_role_command(email: str, role: str) -> None:
    """Give ROLE to the account for EMAIL (made now if it does not exist yet)."""
    email = _email(email)
    granted = services.grant_role(db.session, email, Role(role.lower()), now=utcnow())
    db.session.commit()
    if granted:
        click.echo(f"{email} now has the {role} role.")
    else:
        click.echo(f"{email} already had the {role} role; nothing changed.")


@users_cli.command("revoke-role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def revoke_role_command(email: str, role: str) -> None:
    """Take ROLE away from the account for EMAIL."""
    email = _email(email)
    revoked = services.revoke_role(db.session, email, Role(role.lower()))
    db.session.commit()
    if revoked:
        click.echo(f"{email} no longer has the {role} role.")
    else:
        click.echo(f"{email} did not have the {role} role; nothing changed.")
