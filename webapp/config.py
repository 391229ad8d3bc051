"""Settings from the environment, with embedded defaults for a developer's machine."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from webapp.privacy.retention import RETENTION

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def load_settings(overrides: dict | None = None) -> dict:
    """Every setting the app reads, from the environment; `overrides` win (tests use them)."""
    overrides = dict(overrides or {})
    debug = overrides.get("DEBUG", _bool("FLASK_DEBUG"))
    testing = overrides.get("TESTING", False)
    redis_url = overrides.get("REDIS_URL", os.environ.get("REDIS_URL") or None)
    instance = Path(overrides.get("INSTANCE_PATH", INSTANCE))
    broker_folder = instance / "broker"

    settings: dict = {
        "DEBUG": debug,
        "TESTING": testing,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance / 'meetups.sqlite3'}",
        # No ping per request (a round trip each time): SQLAlchemy invalidates the whole pool when
        # a query hits a disconnect error anyway, and recycling stops connections outliving
        # server-side idle timeouts.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 300, "pool_pre_ping": False},
        "REDIS_URL": redis_url,
        "SITE_TIMEZONE": os.environ.get("SITE_TIMEZONE", "America/New_York"),
        "SITE_URL": os.environ.get("SITE_URL", "http://localhost:5000").rstrip("/"),
        "SITE_NAME": "METRO Meetups",
        # How many reverse proxies stand in front and set X-Forwarded-For/-Proto/-Host
        # (docker-compose: 1, Caddy). 0 trusts no such header: a client could forge them.
        "PROXY_FIX_HOPS": _int("PROXY_FIX_HOPS", 0),
        # Mail: with no MAIL_SERVER, every mail becomes an .eml file in instance/mail/.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "METRO Meetups <meetups@metro.org>"
        ),
        "MAIL_FILE_DIR": str(instance / "mail"),
        # Where the site's copy sends people who want to reach the METRO team (mailto links).
        "CONTACT_EMAIL": os.environ.get("CONTACT_EMAIL") or "meetups@metro.org",
        # We choose the transport ourselves (MAIL_BACKEND); Flask-Mail must never drop mail silently.
        "MAIL_SUPPRESS_SEND": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": not (debug or testing),
        "BENCH_HELLO": _bool("BENCH_HELLO"),
        "EVENTS_PAGE_SIZE": _int("EVENTS_PAGE_SIZE", 12),
        # How far ahead a series' sessions exist as events (made on create, then by a daily sweep).
        "SERIES_HORIZON_DAYS": _int("SERIES_HORIZON_DAYS", 90),
        # Anonymous public pages are cached per process, checked against a content version on
        # every request (webapp/pagecache.py); the TTL covers what changes with the clock alone.
        # Off by default in debug mode, where templates change under the developer.
        "PAGECACHE_ENABLED": _bool("PAGECACHE_ENABLED", not debug),
        "PAGECACHE_SECONDS": _int("PAGECACHE_SECONDS", 30),
        "PAGECACHE_ENTRIES": _int("PAGECACHE_ENTRIES", 500),
        # Members' own pages (My events), one per signed-in browser, kept apart from the shared pages.
        "PAGECACHE_OWN_ENTRIES": _int("PAGECACHE_OWN_ENTRIES", 1000),
        "OUTBOX_SWEEP_SECONDS": _int("OUTBOX_SWEEP_SECONDS", 60),
        # Delivery (README, "Mail delivery and reminders"). The lease outlives the task time limit.
        "OUTBOX_BATCH_SIZE": _int("OUTBOX_BATCH_SIZE", 50),
        "OUTBOX_CLAIM_LEASE_SECONDS": _int("OUTBOX_CLAIM_LEASE_SECONDS", 600),
        "OUTBOX_RETRY_BASE_SECONDS": _int("OUTBOX_RETRY_BASE_SECONDS", 30),
        "OUTBOX_RETRY_MAX_SECONDS": _int("OUTBOX_RETRY_MAX_SECONDS", 3600),
        "OUTBOX_MAX_ATTEMPTS": _int("OUTBOX_MAX_ATTEMPTS", 8),
        # The outbox page and the worker's log raise the alarm past this wait.
        "OUTBOX_ALERT_MINUTES": _int("OUTBOX_ALERT_MINUTES", 10),
        "REMINDER_SWEEP_SECONDS": _int("REMINDER_SWEEP_SECONDS", 300),
        # Zoom (README, "Zoom meetings made by the site"): a Server-to-Server OAuth app's credentials.
        # Without all three the site works as before: organizers paste a meeting link.
        "ZOOM_ACCOUNT_ID": os.environ.get("ZOOM_ACCOUNT_ID") or None,
        "ZOOM_CLIENT_ID": os.environ.get("ZOOM_CLIENT_ID") or None,
        "ZOOM_CLIENT_SECRET": os.environ.get("ZOOM_CLIENT_SECRET") or None,
        "ZOOM_API_BASE": (os.environ.get("ZOOM_API_BASE") or "https://api.zoom.us/v2").rstrip("/"),
        "ZOOM_OAUTH_URL": os.environ.get("ZOOM_OAUTH_URL") or "https://zoom.us/oauth/token",
        # The app's event subscription's Secret Token: signs the webhooks (/zoom/webhook). Unset: no webhook.
        "ZOOM_WEBHOOK_SECRET": os.environ.get("ZOOM_WEBHOOK_SECRET") or None,
        # Seconds a single call to Zoom may take before it counts as a (retryable) failure.
        "ZOOM_TIMEOUT_SECONDS": _int("ZOOM_TIMEOUT_SECONDS", 10),
        # The intents' delivery: like the outbox's (a lease longer than the task's time limit, backoff).
        "ZOOM_SWEEP_SECONDS": _int("ZOOM_SWEEP_SECONDS", 60),
        "ZOOM_CLAIM_LEASE_SECONDS": _int("ZOOM_CLAIM_LEASE_SECONDS", 600),
        "ZOOM_RETRY_BASE_SECONDS": _int("ZOOM_RETRY_BASE_SECONDS", 30),
        "ZOOM_RETRY_MAX_SECONDS": _int("ZOOM_RETRY_MAX_SECONDS", 3600),
        # 12 attempts at up to an hour apart: Zoom down for several hours still loses nothing.
        "ZOOM_MAX_ATTEMPTS": _int("ZOOM_MAX_ATTEMPTS", 12),
        # A registrant waits this long between looks for its meeting to be made (not an attempt).
        "ZOOM_WAIT_SECONDS": _int("ZOOM_WAIT_SECONDS", 15),
        # A reminder waits for the attendee's Zoom link this many times, this long each, then goes
        # with the /join/ link and a note.
        "ZOOM_REMINDER_WAITS": _int("ZOOM_REMINDER_WAITS", 3),
        "ZOOM_REMINDER_WAIT_SECONDS": _int("ZOOM_REMINDER_WAIT_SECONDS", 300),
        # Confirmed attendees see and get the meeting link from this many hours before the start.
        "REMINDER_WINDOW_HOURS": _int("REMINDER_WINDOW_HOURS", 24),
        # "Still coming?": confirmed attendees of a capped event with a waitlist are asked this many
        # hours before the start; where the organizer turned it on, unanswered seats go to the
        # waitlist this many hours before (webapp/registrations/still_coming.py).
        "STILL_COMING_HOURS": _int("STILL_COMING_HOURS", 72),
        "RELEASE_UNCONFIRMED_HOURS": _int("RELEASE_UNCONFIRMED_HOURS", 24),
        # Only seats whose "Still coming?" mail was delivered (outbox: sent) at least this many hours
        # before the release deadline are released: a day to read it and answer.
        "STILL_COMING_NOTICE_HOURS": _int("STILL_COMING_NOTICE_HOURS", 24),
        # A waitlisted member reads how far this group's waitlists moved at its last full events
        # (at most this many), once it has at least the minimum (webapp/registrations/odds.py).
        "WAITLIST_ODDS_EVENTS": _int("WAITLIST_ODDS_EVENTS", 6),
        "WAITLIST_ODDS_MIN_EVENTS": _int("WAITLIST_ODDS_MIN_EVENTS", 3),
        # Calendar feeds: events that ended this many days ago are still listed; a cancelled event
        # stays (as STATUS:CANCELLED, so subscribed calendars remove it) this many days after cancelling.
        "FEED_PAST_DAYS": _int("FEED_PAST_DAYS", 90),
        "FEED_CANCELLED_DAYS": _int("FEED_CANCELLED_DAYS", 30),
        # The staff's group health page calls a group dormant when it held nothing in this many months.
        "GROUP_DORMANT_MONTHS": _int("GROUP_DORMANT_MONTHS", 6),
        # Accounts: passwordless sign-in by emailed link; Flask-Login keeps members signed in.
        "SIGN_IN_LINK_MINUTES": _int("SIGN_IN_LINK_MINUTES", 15),
        # How long what the site knows about members is kept (SIGN_IN_NOTE_HOURS,
        # ACCESSIBILITY_NEEDS_RETENTION_DAYS, ...): one table, webapp/privacy/retention.py.
        **{rule.setting: _int(rule.setting, rule.default) for rule in RETENTION},
        # A session ends on sign-out, on "sign out everywhere", or this many days after sign-in,
        # checked on the server (README, "Accounts and roles"); the remember-me cookie lasts as long.
        "SESSION_MAX_DAYS": _int("SESSION_MAX_DAYS", 30),
        # Deleting one's account: the mailed link works this long; so many links per member per hour.
        "ACCOUNT_DELETION_LINK_MINUTES": _int("ACCOUNT_DELETION_LINK_MINUTES", 60),
        "ACCOUNT_DELETION_LIMIT": os.environ.get("ACCOUNT_DELETION_LIMIT") or "3 per hour",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Flask-Limiter: shared counters in Redis when there is one, per process otherwise.
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # A Redis that is down or unreachable must cost a request a second at most, not a hang:
        # the limits then count without it (webapp/throttle.py).
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {},
        "RATELIMIT_KEY_PREFIX": "meetups",
        "SIGN_IN_LIMIT_PER_ADDRESS": os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS")
        or "3 per 15 minutes",
        "REGISTRATION_LIMIT_PER_MEMBER": os.environ.get("REGISTRATION_LIMIT_PER_MEMBER", "20 per hour"),
        # Each message to an event's attendees mails all of them: how many one organizer may send.
        "EVENT_MESSAGE_LIMIT_PER_SENDER": os.environ.get("EVENT_MESSAGE_LIMIT_PER_SENDER") or "5 per hour",
        # Each message to a group's followers mails all of them: how many one organizer may send.
        "FOLLOWER_MESSAGE_LIMIT_PER_SENDER": os.environ.get("FOLLOWER_MESSAGE_LIMIT_PER_SENDER") or "3 per day",
        "SIGN_IN_LIMIT_PER_CLIENT": os.environ.get("SIGN_IN_LIMIT_PER_CLIENT") or "10 per hour",
        # Each invitation to co-organize mails someone: how many one organizer may send.
        "GROUP_INVITE_LIMIT": os.environ.get("GROUP_INVITE_LIMIT") or "10 per hour",
        # Each proposal sent mails every reviewer: how many one member may send.
        "PROPOSAL_SUBMIT_LIMIT": os.environ.get("PROPOSAL_SUBMIT_LIMIT") or "6 per hour",
    }
    settings.update(overrides)
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers queue on SQLite's lock: wait for it rather than fail under a burst.
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **settings["SQLALCHEMY_ENGINE_OPTIONS"], "connect_args": {"timeout": 30},
        }
    settings.setdefault("REMEMBER_COOKIE_SECURE", settings["SESSION_COOKIE_SECURE"])
    settings.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=settings["SESSION_MAX_DAYS"]))
    settings["MAIL_BACKEND"] = "smtp" if settings["MAIL_SERVER"] else "file"
    if settings["MAIL_SERVER"] is None:
        settings["MAIL_SERVER"] = "localhost"
    settings.setdefault("CELERY", celery_settings(
        settings["REDIS_URL"], broker_folder,
        outbox_sweep_seconds=settings["OUTBOX_SWEEP_SECONDS"],
        reminder_sweep_seconds=settings["REMINDER_SWEEP_SECONDS"],
        zoom_sweep_seconds=settings["ZOOM_SWEEP_SECONDS"],
    ))
    return settings


def celery_settings(redis_url: str | None, broker_folder: Path, *, outbox_sweep_seconds: int = 60,
                    reminder_sweep_seconds: int = 300, zoom_sweep_seconds: int = 60) -> dict:
    """Celery on Redis in production; kombu's filesystem transport when there is no Redis.

    The filesystem transport needs no server and survives restarts of the worker, which is
    all a developer's machine needs; it is not for several hosts, Redis is.
    """
    common = {
        "task_ignore_result": True,
        "include": ["tasks.mail", "tasks.reminders", "tasks.follows", "tasks.still_coming",
                    "tasks.series", "tasks.privacy",
                    "tasks.zoom"],
        # A task is acknowledged only after it ran, and re-queued if its worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": 300,
        "task_soft_time_limit": 240,
        "broker_connection_retry_on_startup": True,
        # If the broker is down when a request commits, give up fast: the sweep sends it later.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        "timezone": "UTC",
        "beat_schedule": {
            # A sweep still queued when the next one is due is pointless: it expires instead of piling up.
            "sweep-outbox": {"task": "tasks.mail.sweep_outbox", "schedule": float(outbox_sweep_seconds),
                             "options": {"expires": float(outbox_sweep_seconds)}},
            # "Due and not yet reminded", never a time slice: a late or repeated sweep is harmless.
            "sweep-reminders": {"task": "tasks.reminders.sweep_reminders",
                                "schedule": float(reminder_sweep_seconds),
                                "options": {"expires": float(reminder_sweep_seconds)}},
            # Yesterday's and last week's digests of followed groups: once per member and period.
            "queue-follow-digests": {"task": "tasks.follows.queue_digests",
                                     "schedule": 3600.0, "options": {"expires": 3600.0}},
            # "Still coming?" mails and releasing unanswered seats: "due and not yet done", like reminders.
            "sweep-still-coming": {"task": "tasks.still_coming.sweep_still_coming",
                                   "schedule": float(reminder_sweep_seconds),
                                   "options": {"expires": float(reminder_sweep_seconds)}},
            # Each series' sessions up to SERIES_HORIZON_DAYS ahead: "not made yet", so a late or
            # repeated sweep is harmless. Hourly, so a day's new session is never late by more.
            "materialize-series": {"task": "tasks.series.materialize_series",
                                   "schedule": 3600.0, "options": {"expires": 3600.0}},
            # Erase what is past its keeping time (webapp/privacy/retention.py): "due and not yet
            # erased", so a late or repeated sweep is harmless.
            "erase-expired-data": {"task": "tasks.privacy.erase_expired_data",
                                   "schedule": 3600.0, "options": {"expires": 3600.0}},
            # Zoom intents left behind (a broker down at commit, a worker that died, a retry due), the
            # registrants a cause without a hook left out, and the end of events: "due and not done".
            "sweep-zoom": {"task": "tasks.zoom.sweep_zoom_intents", "schedule": float(zoom_sweep_seconds),
                           "options": {"expires": float(zoom_sweep_seconds)}},
        },
    }
    if redis_url:
        return {
            **common,
            "broker_url": redis_url,
            "broker_transport_options": {"visibility_timeout": 3600, "socket_connect_timeout": 3},
        }
    for sub in ("queue", "processed", "control"):
        (broker_folder / sub).mkdir(parents=True, exist_ok=True)
    queue = str(broker_folder / "queue")
    return {
        **common,
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": queue,
            "data_folder_out": queue,
            "processed_folder": str(broker_folder / "processed"),
            "control_folder": str(broker_folder / "control"),
            "store_processed": False,
        },
    }
