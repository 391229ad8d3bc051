"""Command-line tools: `flask seed`."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask

from webapp.db import db
from webapp.display import plural, site_zone


def register(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option("--redate", is_flag=True, help="Move seeded events back into the coming weeks.")
    @click.option("--refresh", is_flag=True, help="Rewrite seeded groups' and events' text too.")
    def seed_command(redate: bool, refresh: bool) -> None:
        """Load the METRO Meetup groups and upcoming events (safe to run again)."""
        from webapp.seed import seed

        zone = site_zone()
        created = seed(db.session, today=datetime.now(zone).date(), zone=zone, redate=redate,
                       refresh=refresh)
        db.session.commit()
        click.echo(
            f"Seed data loaded: {created['groups']} new groups, {created['events']} new events, "
            f"{created['series']} new series ({plural(created['sessions'], 'more session')} made)."
        )
