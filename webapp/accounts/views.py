"""The accounts blueprint: ask for a sign-in link, use it, sign out, and edit the profile."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.accounts import services
from webapp.accounts.forms import ConfirmSignInForm, ProfileForm, SignInForm
from webapp.accounts.models import normalize_email
from webapp.accounts.services import LinkProblem, SignInFailed, clean_intent, safe_next_url
from webapp.accounts.throttle import sign_in_link_refused
from webapp.db import db, utcnow
from webapp.extensions import login_manager
from webapp.feeds.private import private_calendar_links
from webapp.guards import current_member
from webapp.rendering import form_status as _status
from webapp.rendering import go_to as _go_to
from webapp.rendering import no_store as _private
from webapp.rendering import render

bp = Blueprint("accounts", __name__)

LINK_PROBLEM_STATUS = {LinkProblem.INVALID: 400, LinkProblem.EXPIRED: 410, LinkProblem.USED: 410}


@login_manager.user_loader
def load_user(user_id: str):
    return services.load_user(db.session, user_id, now=utcnow())


@bp.after_app_request
def _private_to_members(response):
    """Every page a member sees is theirs alone: no shared cache or back button may keep it.

    A browser still holding an ended session (signed out elsewhere, or past 30 days) is told to
    forget it, so it is anonymous again, and the page cache may serve it public pages.
    """
    if current_user.is_authenticated:
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
    if "_user_id" in session:
        session.pop("_user_id")
        session.pop("_fresh", None)
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        session["_remember"] = "clear"  # Flask-Login deletes the cookie on its way out
    return response



# --- Asking for a link ---------------------------------------------------------------------------


@bp.get("/sign-in")
def sign_in():
    form = SignInForm(formdata=None)
    form.next.data = safe_next_url(request.args.get("next")) or ""
    form.intent.data = clean_intent(request.args.get("intent")) or ""
    purpose = services.describe_intent(form.intent.data)
    everywhere = request.args.get("signed_out") == "everywhere" and not current_user.is_authenticated
    return render("accounts/sign_in.html", "sign_in_form", form=form, signed_out_everywhere=everywhere,
                  purpose=purpose)


@bp.post("/sign-in")
def send_sign_in_link():
    form = SignInForm()
    if not form.validate():
        return render("accounts/sign_in.html", "sign_in_form", form=form, status=_status(422),
                      purpose=services.describe_intent(form.intent.data))
    email = normalize_email(form.email.data)
    if refused_by := sign_in_link_refused(email):
        return render(
            "accounts/sign_in.html", "sign_in_form", form=form, throttled=refused_by,
            status=_status(429), purpose=services.describe_intent(form.intent.data),
        )
    sign_in_request = services.request_sign_in(
        db.session, email, next_url=form.next.data, intent=form.intent.data,
        intent_note=form.intent_note.data, display_name=form.display_name.data, now=utcnow(),
    )
    db.session.commit()
    # The same answer whether or not this address has an account.
    return render("accounts/sign_in.html", "sign_in_form", form=form, sent_to=email,
                  purpose=services.describe_intent(sign_in_request.intent))


# --- Using a link --------------------------------------------------------------------------------


def _link_problem(failed: SignInFailed):
    """Why the link cannot be used, and the form to ask for a new one (pre-filled if we can)."""
    if (
        failed.problem is LinkProblem.USED
        and current_user.is_authenticated
        and current_user.email == failed.request.email
    ):
        # A double click on "Sign in", or the link opened again: they are in already.
        return redirect(failed.request.next_url or services.DEFAULT_NEXT_URL, code=303)
    form = SignInForm(formdata=None)
    if failed.request is not None:
        form.email.data = failed.request.email
        form.next.data = failed.request.next_url or ""
        form.intent.data = failed.request.intent or ""
        # What they typed with the intent rides along in the form's body (never the address),
        # so asking for a new link keeps it; a used link's note was already handed over.
        form.intent_note.data = failed.request.intent_note or ""
        form.display_name.data = failed.request.display_name or ""
    response = render(
        "accounts/sign_in.html", problem=failed.message, form=form,
        status=LINK_PROBLEM_STATUS[failed.problem],
    )
    return _private(response)


@bp.get("/sign-in/<token>")
def confirm_sign_in(token: str):
    # Mail scanners open links to check them: a GET only asks; the button's POST signs in.
    checked = services.check_sign_in_link(db.session, token, now=utcnow())
    if isinstance(checked, SignInFailed):
        return _link_problem(checked)
    return _private(
        render("accounts/confirm_sign_in.html", form=ConfirmSignInForm(), email=checked.email)
    )


@bp.post("/sign-in/<token>")
def complete_sign_in(token: str):
    form = ConfirmSignInForm()
    now = utcnow()
    result = services.complete_sign_in(db.session, token, now=now)
    if isinstance(result, SignInFailed):
        db.session.rollback()
        return _link_problem(result)
    _carry_out_intent(result.user, result.intent, now=now, note=result.intent_note)
    services.start_session(db.session, result.user, now=now)
    db.session.commit()
    login_user(result.user, remember=form.remember.data)
    if result.user.needs_profile:
        return redirect(url_for("accounts.account", welcome=1, next=result.next_url), code=303)
    return redirect(result.next_url, code=303)


def _carry_out_intent(user, intent: str | None, *, now, note: str | None = None) -> None:
    """Finish what the member asked for before signing in (e.g. "register:42").

    Other domains register handlers in app.extensions["sign_in_intents"]; accounts knows none.
    """
    kind, _, argument = (intent or "").partition(":")
    handler = current_app.extensions.get("sign_in_intents", {}).get(kind)
    if handler is not None:
        handler(user, argument, now=now, note=note)


@bp.post("/sign-out")
def sign_out():
    # This browser's session only: the member's other devices stay signed in.
    if current_user.is_authenticated:
        services.end_session(db.session, current_member(), now=utcnow())
        db.session.commit()
    logout_user()
    return _go_to(url_for("pages.home"))


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    services.end_all_sessions(db.session, current_member(), now=utcnow())
    db.session.commit()
    logout_user()
    return _go_to(url_for("accounts.sign_in", signed_out="everywhere"))


# --- The profile ---------------------------------------------------------------------------------


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_member()
    # Right after a first sign-in: name yourself, then carry on to where you were going.
    welcome = request.args.get("welcome") == "1"
    next_url = safe_next_url(request.args.get("next")) if welcome else None
    form = ProfileForm(obj=user)
    now = utcnow()
    context = dict(
        form=form, user=user, welcome=welcome, next_url=next_url,
        open_sessions=services.open_session_count(db.session, user, now=now),
        # The private calendar's address is made the first time the page is opened (a GET, committed
        # at once so the address shown works); a form sent back with a problem writes nothing.
        private_calendar=None if welcome else private_calendar_links(
            db.session, user, now=now, make=request.method == "GET"),
        calendar_reset=request.args.get("calendar") == "reset",
    )
    if request.method == "GET":
        db.session.commit()
        return _private(render("accounts/account.html", "profile_form", **context))
    if not form.validate():
        return _private(
            render("accounts/account.html", "profile_form", status=_status(422), **context)
        )
    services.update_profile(
        db.session,
        user,
        display_name=form.display_name.data,
        institution=form.institution.data,
        pronouns=form.pronouns.data,
    )
    db.session.commit()
    if welcome:
        return _go_to(next_url or url_for("pages.home"))
    return _private(render("accounts/account.html", "profile_form", saved=True, **context))
