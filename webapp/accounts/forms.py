"""The accounts forms: ask for a link, confirm a link, edit the profile."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Optional, ValidationError

from webapp.accounts.models import DISPLAY_NAME_MAX, INSTITUTION_MAX, PRONOUNS_MAX
from webapp.accounts.services import INTENT_NOTE_MAX, email_problem, has_control_characters
from webapp.forms import Form
from webapp.validators import at_most


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _valid_email(form, field) -> None:
    if problem := email_problem(field.data):
        raise ValidationError(problem)


def _no_control_characters(form, field) -> None:
    if field.data and has_control_characters(field.data):
        raise ValidationError("Please remove line breaks and other special control characters.")


class SignInForm(Form):
    email = EmailField("Email address", filters=[_strip], validators=[_valid_email])
    # Where to go and what to pick up after signing in; both re-checked by the service.
    next = HiddenField()
    intent = HiddenField()
    # Shown only with an intent: names a new account before the intent's first mail is written.
    display_name = StringField(
        "Your name",
        filters=[_strip],
        validators=[Optional(), at_most(DISPLAY_NAME_MAX), _no_control_characters],
    )
    # What was typed with the intent (accessibility needs), carried in the body when a link is
    # asked for again; the service keeps it on the server from there.
    intent_note = HiddenField(validators=[Optional(), at_most(INTENT_NOTE_MAX, "Accessibility needs")])


class ConfirmSignInForm(Form):
    remember = BooleanField("Keep me signed in on this device for 30 days", default=True)


class ProfileForm(Form):
    display_name = StringField(
        "Display name",
        filters=[_strip],
        validators=[
            DataRequired("Please enter the name to show other members."),
            at_most(DISPLAY_NAME_MAX),
            _no_control_characters,
        ],
    )
    institution = StringField(
        "Institution",
        filters=[_strip],
        validators=[
            Optional(),
            at_most(INSTITUTION_MAX),
            _no_control_characters,
        ],
    )
    pronouns = StringField(
        "Pronouns",
        filters=[_strip],
        validators=[
            Optional(),
            at_most(PRONOUNS_MAX),
            _no_control_characters,
        ],
    )
