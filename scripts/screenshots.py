"""`make screenshots`: pictures of the main pages and two mails, at desktop and phone sizes.

Starts the app in this process on a private SQLite database in a temp folder (migrated and seeded
the way `make run` does it: `flask db upgrade`, `flask seed`), signs a sample member and an organizer
in through the real mailed link (read from the outbox), and has Debian's Chromium photograph each
page into docs/screenshots/<page>-<size>.png. Removes the temp folder and stops the server after.

    python scripts/screenshots.py                      # everything, into docs/screenshots/
    python scripts/screenshots.py --out /tmp/s --only home,attendees --sizes phone
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/lib/chromium/chromium"
OUT = ROOT / "docs" / "screenshots"
# Device scale 1 and the first screenful keep each picture small enough to commit.
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@dataclass(frozen=True)
class Shot:
    name: str
    path: str  # {event} and {group} are filled in with the sample event and its group
    who: str | None = None  # None: signed out; "member" or "organizer"
    what: str = ""


PAGES = [
    Shot("home", "/", what="Home page"),
    Shot("events", "/events", what="Upcoming events, with search and filters"),
    Shot("event", "/events/{event}", what="An event page with its registration panel"),
    Shot("group", "/groups/{group}", what="A group page"),
    Shot("my-events", "/my/events", who="member", what="My events, signed in"),
    Shot("attendees", "/events/{event}/attendees", who="organizer", what="The organizer's attendee list"),
    Shot("proposal-form", "/proposals/new", who="member", what="Proposing a new group"),
]
MAILS = {"mail-confirmation": "registration_confirmed", "mail-reminder": "reminder"}
SHOT_NAMES = [shot.name for shot in PAGES] + list(MAILS)

MEMBER = {"email": "ada@example.org", "name": "Ada Lovelace"}
ORGANIZER = {"email": "olga@example.org", "name": "Olga Organizer"}
# Other people on the attendee list, so it looks like a list.
ATTENDEES = [("Ben Franklin", "Brooklyn Public Library"), ("Grace Hopper", "Queens Public Library"),
             ("Katherine Johnson", "New York Public Library")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app(folder: Path, site_url: str):
    """The development app (debug, as `make run`), whatever DATABASE_URL or REDIS_URL say."""
    from webapp import create_app

    return create_app({
        "DEBUG": True, "SITE_URL": site_url, "INSTANCE_PATH": str(folder),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'meetups.sqlite3'}",
        "REDIS_URL": None, "MAIL_SERVER": None, "MAIL_FILE_DIR": str(folder / "mail"),
        "PAGECACHE_ENABLED": False,
    })


def prepare_database(app) -> None:
    """`flask db upgrade` and `flask seed`, as `make run` does."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
    result = app.test_cli_runner().invoke(args=["seed"])
    if result.exit_code != 0:
        raise RuntimeError(f"flask seed failed: {result.output}")


def sample_event(app):
    """The soonest seeded event with a group that members can register for now (ids, not rows)."""
    from sqlalchemy import select

    from webapp.db import db, utcnow
    from webapp.events.models import Event, EventStatus
    from webapp.registrations.services import registration_window_problem

    now = utcnow()
    with app.app_context():
        events = db.session.scalars(
            select(Event).where(Event.status == EventStatus.SCHEDULED, Event.group_id.is_not(None),
                                Event.starts_at > now + timedelta(days=1)).order_by(Event.starts_at)).all()
        for event in events:
            if registration_window_problem(event, now) is None:
                return {"id": event.id, "event": event.slug, "group": event.group.slug, "group_id": event.group_id}
    raise RuntimeError("the seed data has no upcoming event open for registration")


def add_people(app, sample: dict) -> None:
    """The organizer (an organizer of the sample event's group) and a few attendees, one checked in."""
    from webapp.accounts.models import User
    from webapp.db import db, utcnow
    from webapp.groups.models import Group
    from webapp.groups.services import add_organizer
    from webapp.organize.attendees import set_checked_in
    from webapp.registrations.services import register

    now = utcnow()
    with app.app_context():
        db.session.add(User(email=ORGANIZER["email"], display_name=ORGANIZER["name"], created_at=now))
        db.session.flush()
        add_organizer(db.session, db.session.get(Group, sample["group_id"]), ORGANIZER["email"], now=now)
        for position, (name, institution) in enumerate(ATTENDEES):
            user = User(email=f"{name.split()[0].lower()}@example.org", display_name=name,
                        institution=institution, created_at=now)
            db.session.add(user)
            db.session.flush()
            outcome = register(db.session, sample["id"], member=user, now=now,
                               accessibility_needs="Captions, please" if position == 1 else "")
            if position == 0 and outcome.registration.status == "confirmed":
                set_checked_in(db.session, sample["id"], outcome.registration.id, checked_in=True, now=now)
        db.session.commit()


def newest_mail(app, kind: str, recipient: str | None = None):
    from sqlalchemy import select

    from webapp.db import db
    from webapp.outbox.models import OutboxMail

    with app.app_context():
        query = select(OutboxMail).where(OutboxMail.kind == kind)
        if recipient:
            query = query.where(OutboxMail.recipient == recipient)
        mail = db.session.scalars(query.order_by(OutboxMail.id.desc())).first()
        if mail is None:
            raise RuntimeError(f"no {kind} mail in the outbox")
        from webapp.outbox.rendering import render_stored

        text, html, _calendar = render_stored(mail)  # as the worker will send it (from its stored facts)
        return text, html


def queue_the_reminder(app, sample: dict) -> None:
    """The scheduler's sweep, run as if it were an hour before the sample event."""
    from webapp.db import db
    from webapp.events.models import Event
    from webapp.reminders.services import queue_due_reminders

    with app.app_context():
        starts_at = db.session.get(Event, sample["id"]).starts_at
        queue_due_reminders(db.session, now=starts_at - timedelta(hours=1))
        db.session.commit()


def sign_in(page, app, site_url: str, person: dict) -> None:
    """The real way: ask for a link, follow the one in the mail, press Sign in, name yourself if asked."""
    from playwright.sync_api import expect

    page.goto(site_url + "/sign-in")
    page.get_by_label("Email address").fill(person["email"])
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    text, _ = newest_mail(app, "sign_in", person["email"])
    page.goto(re.search(rf"{re.escape(site_url)}/sign-in/\S+", text).group(0))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
    if page.get_by_role("heading", name=re.compile("^Welcome to")).count():
        page.get_by_label("Display name").fill(person["name"])
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url(lambda url: "/account" not in url)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="My account")).to_be_visible()


def photograph(page, out: Path, name: str, sizes: dict) -> list[Path]:
    written = []
    for size_name, viewport in sizes.items():
        page.set_viewport_size(viewport)
        page.evaluate("window.scrollTo(0, 0)")
        path = out / f"{name}-{size_name}.png"
        page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
        written.append(path)
    return written


def serve(app, port: int):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def take_screenshots(out: Path, *, only: list[str] | None = None, sizes: dict | None = None) -> list[Path]:
    """Write the PNGs named by `only` (default: all of SHOT_NAMES) at `sizes` into `out`."""
    from playwright.sync_api import expect, sync_playwright

    wanted = set(only or SHOT_NAMES)
    unknown = wanted - set(SHOT_NAMES)
    if unknown:
        raise ValueError(f"no such picture: {', '.join(sorted(unknown))} (there are: {', '.join(SHOT_NAMES)})")
    sizes = sizes or SIZES
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: `make services` installs Debian's Chromium.")
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="meetups-screenshots-"))
    port = free_port()
    site_url = f"http://localhost:{port}"
    written: list[Path] = []
    server = thread = None
    try:
        app = make_app(folder, site_url)
        prepare_database(app)
        for noisy in ("werkzeug", "alembic"):  # a line per request and per migration otherwise
            logging.getLogger(noisy).setLevel(logging.WARNING)
        sample = sample_event(app)
        add_people(app, sample)
        server, thread = serve(app, port)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            pages = {}

            def page_for(who: str | None):
                if who not in pages:
                    context = browser.new_context(viewport=SIZES["desktop"], device_scale_factor=1,
                                                  reduced_motion="reduce", color_scheme="light")
                    context.set_default_timeout(10_000)
                    pages[who] = context.new_page()
                    if who == "member":
                        sign_in(pages[who], app, site_url, MEMBER)
                        # Registered through the event page, as a member does: it sends the confirmation.
                        pages[who].goto(site_url + f"/events/{sample['event']}")
                        pages[who].locator("#registration-panel").get_by_role("button").first.click()
                        expect(pages[who].locator("#registration-panel [role=status]")).to_be_visible()
                    elif who == "organizer":
                        sign_in(pages[who], app, site_url, ORGANIZER)
                return pages[who]

            for shot in PAGES:
                if shot.name not in wanted:
                    continue
                page = page_for(shot.who)
                response = page.goto(site_url + shot.path.format(**sample))
                if not response.ok:  # a picture of an error page is no picture of the page
                    raise RuntimeError(f"{shot.path.format(**sample)} answered {response.status}")
                written += photograph(page, out, shot.name, sizes)

            if wanted & set(MAILS):
                page_for("member")  # the member's registration queues the confirmation
                queue_the_reminder(app, sample)
                mail_page = browser.new_context(viewport=SIZES["desktop"], device_scale_factor=1,
                                                java_script_enabled=False).new_page()
                for name, kind in MAILS.items():
                    if name in wanted:
                        _, html = newest_mail(app, kind, MEMBER["email"])
                        mail_page.set_content(html)
                        written += photograph(mail_page, out, name, sizes)
            browser.close()
    finally:
        if server is not None:
            server.shutdown()
            thread.join(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (default docs/screenshots)")
    parser.add_argument("--only", help=f"comma-separated pictures, of: {','.join(SHOT_NAMES)}")
    parser.add_argument("--sizes", help=f"comma-separated sizes, of: {','.join(SIZES)}")
    args = parser.parse_args(argv)
    sizes = {name: SIZES[name] for name in args.sizes.split(",")} if args.sizes else SIZES
    started = time.monotonic()
    written = take_screenshots(args.out, only=args.only.split(",") if args.only else None, sizes=sizes)
    for path in written:
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")
    print(f"{len(written)} screenshots in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
