"""The METRO Meetups application factory."""

from __future__ import annotations

import logging
from pathlib import Path

from celery import Celery, Task
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp import config, display, security
from webapp.db import db
from webapp.extensions import csrf, htmx, limiter, login_manager, mail, migrate

ROOT = config.ROOT

def create_app(overrides: dict | None = None) -> Flask:
    settings = config.load_settings(overrides)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings["INSTANCE_PATH"],
    )
    app.config.from_mapping(settings)
    security.refuse_unsafe_settings(app.config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = "dev-only-not-secret"  # debug on localhost, or tests
    if app.debug:
        security.keep_developers_on_the_site_address(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO)

    db.init_app(app)
    migrate.init_app(app, db)
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    celery_init_app(app)
    display.register(app)
    _models_loaded()
    _send_rechecks_registered()

    from webapp import errors
    from webapp.accounts.views import bp as accounts_bp
    from webapp.events.views import bp as events_bp
    from webapp.groups.views import bp as groups_bp
    from webapp.pages.views import bp as pages_bp
    from webapp.registrations.views import bp as registrations_bp
    from webapp.registrations.views import describe_registration_intent, register_after_sign_in

    app.register_blueprint(pages_bp)
    app.register_blueprint(groups_bp)
    app.register_blueprint(events_bp)
    from webapp.feeds.views import bp as feeds_bp

    app.register_blueprint(feeds_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(registrations_bp)
    from webapp.outbox.views import bp as outbox_bp
    from webapp.reminders.views import bp as reminders_bp

    app.register_blueprint(outbox_bp)
    app.register_blueprint(reminders_bp)
    from webapp.zoom.views import bp as zoom_bp

    app.register_blueprint(zoom_bp)
    app.extensions["sign_in_intents"] = {"register": register_after_sign_in}
    # What each intent's sign-in link finishes, in words, for its mail and "Check your inbox".
    app.extensions["sign_in_intent_descriptions"] = {"register": describe_registration_intent}
    from webapp.groups.invitations import accept_invitation_after_sign_in
    from webapp.proposals.views import bp as proposals_bp

    app.register_blueprint(proposals_bp)
    app.extensions["sign_in_intents"]["invitation"] = accept_invitation_after_sign_in
    from webapp.organize.views import bp as organize_bp

    app.register_blueprint(organize_bp)
    from webapp.follows.views import bp as follows_bp
    from webapp.follows.views import describe_follow_intent, follow_after_sign_in

    app.register_blueprint(follows_bp)
    from webapp.groups.health_views import bp as group_health_bp
    from webapp.series.views import bp as series_bp
    from webapp.series.views import describe_register_all_intent, register_all_after_sign_in

    app.register_blueprint(series_bp)

    app.register_blueprint(group_health_bp)
    from webapp.slots.views import bp as slots_bp

    app.register_blueprint(slots_bp)
    from webapp.privacy.views import bp as privacy_bp

    app.register_blueprint(privacy_bp)
    app.extensions["sign_in_intents"]["follow"] = follow_after_sign_in
    app.extensions["sign_in_intent_descriptions"]["follow"] = describe_follow_intent
    app.extensions["sign_in_intents"]["series"] = register_all_after_sign_in
    app.extensions["sign_in_intent_descriptions"]["series"] = describe_register_all_intent
    errors.register(app)
    from webapp import requests

    requests.register(app)
    if app.debug or app.testing:
        from webapp.pages.dev import bp as dev_bp

        app.register_blueprint(dev_bp)

    from webapp import cli

    cli.register(app)
    from webapp.accounts.cli import users_cli

    app.cli.add_command(users_cli)
    from webapp.groups.cli import groups_cli

    app.cli.add_command(groups_cli)
    app.after_request(security.add_security_headers)
    app.context_processor(lambda: {"site_name": app.config["SITE_NAME"]})
    from webapp import pagecache

    pagecache.init_app(app)  # last but the proxy fix: it wraps the WSGI app that the proxy fix feeds
    security.trust_proxy(app)
    return app


def _send_rechecks_registered() -> None:
    """Import the modules that register a send-time re-check with the outbox, so that every
    process that sends mail (a worker imports only what its tasks need) re-checks them."""
    import webapp.events.changes  # noqa: F401
    import webapp.registrations.still_coming  # noqa: F401
    import webapp.reminders.services  # noqa: F401
    import webapp.slots.services  # noqa: F401


def _models_loaded() -> None:
    """Import every model so metadata (and Alembic) sees all tables."""
    import webapp.accounts.models  # noqa: F401
    import webapp.events.models  # noqa: F401
    import webapp.feeds.models  # noqa: F401
    import webapp.follows.models  # noqa: F401
    import webapp.groups.invitations  # noqa: F401
    import webapp.groups.models  # noqa: F401
    import webapp.organize.models  # noqa: F401
    import webapp.outbox.models  # noqa: F401
    import webapp.pagecache  # noqa: F401
    import webapp.proposals.models  # noqa: F401
    import webapp.registrations.models  # noqa: F401
    import webapp.reminders.models  # noqa: F401
    import webapp.series.models  # noqa: F401
    import webapp.slots.models  # noqa: F401
    import webapp.zoom.models  # noqa: F401


def celery_init_app(app: Flask) -> Celery:
    """Celery bound to this app: every task runs inside an app context (Flask's own pattern)."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    from webapp.outbox.services import dispatch_after_commit

    if session.info.get("outbox_pending_ids"):
        dispatch_after_commit(session)
    if session.info.get("zoom_pending_ids"):
        from webapp.zoom.services import dispatch_after_commit as dispatch_zoom_intents

        dispatch_zoom_intents(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    from webapp.outbox.services import forget_pending

    forget_pending(session)
    session.info.pop("zoom_pending_ids", None)  # webapp.zoom.services.PENDING_KEY: nothing to carry out


__all__ = ["create_app", "db"]
