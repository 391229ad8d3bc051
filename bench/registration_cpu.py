"""The CPU one registration costs in the request, in-process: `python bench/registration_cpu.py`.

The Flask test client on PostgreSQL and a Redis of its own (broker, rate limits, page-cache
version), so the load on the machine matters less than over HTTP: BATCHES batches of PER_BATCH
signed-in members each press Register (an htmx POST, CSRF and all) on a roomy event; each batch's
process CPU time is divided by its registrations and the least batch is reported, with the share
spent in the registration's mail (`queue_registration_mail`, under the event's lock) and an
anonymous page-cache hit of the event page measured the same way for scale (docs/benchmarks.md).
The rate limits are off (one address, hundreds of members); everything else a registration does is on.

On private services (bench/harness.py's private_services()). Knobs (environment): BATCHES (8), PER_BATCH (60),
WAITLISTED (0; 1: the event has one seat, so the registrations measured join its waitlist, as in the burst).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import bench_app, load_average, private_services  # noqa: E402

BATCHES = int(os.environ.get("BATCHES", 8))
PER_BATCH = int(os.environ.get("PER_BATCH", 60))
WAITLISTED = os.environ.get("WAITLISTED", "0") == "1"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-regcpu-"))
    with private_services() as services:
        db_url = services.database("meetups_bench_registration_cpu")
        app = bench_app(db_url, work, services.fresh_redis(), RATELIMIT_ENABLED=False)
        from webapp.db import db, utcnow

        with app.app_context():
            members = _members(db, utcnow(), BATCHES * PER_BATCH)
        clients = [_signed_in_client(app, session_id) for session_id in members]
        mail_cpu = _time_the_mail()
        # Warm up: the first requests compile templates and fill caches.
        for client, token in clients[:5]:
            client.post("/events/cpu/register", data={"csrf_token": token}, headers={"HX-Request": "true"})
        per_registration, per_mail = [], []
        for batch in range(BATCHES):
            chunk = clients[5 + batch * PER_BATCH:5 + (batch + 1) * PER_BATCH]
            mail_cpu[0] = 0.0
            started = time.process_time()
            for client, token in chunk:
                response = client.post("/events/cpu/register", data={"csrf_token": token},
                                       headers={"HX-Request": "true"})
                assert response.status_code == 200, response.status_code
            per_registration.append((time.process_time() - started) / len(chunk) * 1000)
            per_mail.append(mail_cpu[0] / len(chunk) * 1000)
        anonymous = app.test_client()
        anonymous.get("/events/cpu")
        hits = []
        for _ in range(BATCHES):
            started = time.process_time()
            for _ in range(PER_BATCH):
                assert anonymous.get("/events/cpu").status_code == 200
            hits.append((time.process_time() - started) / PER_BATCH * 1000)
    print(f"registration CPU in the request, least of {BATCHES} batches of {len(chunk)} "
          f"(load average {load_average()}): {min(per_registration):.2f} ms "
          f"(batches: {', '.join(f'{v:.2f}' for v in per_registration)})")
    print(f"  of which its mail (queue_registration_mail: context, calendar file, rendering, outbox row), "
          f"least of {BATCHES}: {min(per_mail):.2f} ms (batches: {', '.join(f'{v:.2f}' for v in per_mail)})")
    print(f"anonymous event page (page-cache hit), least of {BATCHES} batches: {min(hits):.2f} ms")
    return 0


def _time_the_mail() -> list[float]:
    """Count the CPU the registration spends in its mail (`queue_registration_mail`) into [seconds]."""
    from webapp.registrations import services

    spent = [0.0]
    queue = services.queue_registration_mail

    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return queue(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - started

    services.queue_registration_mail = timed
    return spent


def _members(db, now, count: int) -> list[str]:
    """`count` members signed in as a sign-in link leaves them, and the roomy event; their session ids."""
    from webapp.accounts.models import User
    from webapp.accounts.services import start_session
    from webapp.events.models import Event

    db.session.add(Event(slug="cpu", title="CPU Meetup", starts_at=now + timedelta(days=7),
                         ends_at=now + timedelta(days=7, hours=1), is_online=True,
                         meeting_url="https://zoom.us/j/1", capacity=1 if WAITLISTED else count + 10))
    members = [User(email=f"member{n:04d}@example.org", display_name=f"Member {n}") for n in range(count + 5)]
    db.session.add_all(members)
    db.session.flush()
    for member in members:
        start_session(db.session, member, now=now)
    ids = [member.get_id() for member in members]
    db.session.commit()
    return ids


def _signed_in_client(app, session_id: str):
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
        flask_session["_fresh"] = True
    page = client.get("/about").get_data(as_text=True)
    return client, re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


if __name__ == "__main__":
    sys.exit(main())
