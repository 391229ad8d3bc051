"""The organizers' forms for their group: its page, and inviting a co-organizer."""

from __future__ import annotations

from urllib.parse import urlsplit

from wtforms import StringField, TextAreaField
from wtforms.validators import StopValidation, ValidationError

from webapp.accounts.models import EMAIL_MAX
from webapp.accounts.services import email_problem
from webapp.forms import Form
from webapp.groups.models import DESCRIPTION_MAX, EXTERNAL_URL_MAX, ORGANIZER_NAME_MAX
from webapp.validators import at_most, clean_text, no_markup, no_raw_html, normalize_newlines, one_line, strip


class GroupPageForm(Form):
    description = TextAreaField("Description", filters=[normalize_newlines], validators=[
        at_most(DESCRIPTION_MAX), clean_text, no_raw_html])
    external_url = StringField("The group’s own website", filters=[strip], validators=[
        at_most(EXTERNAL_URL_MAX, "The website address"), one_line])

    def validate_external_url(self, field) -> None:
        if not field.data:
            return
        try:
            parts = urlsplit(field.data)
            host = parts.hostname or ""
            _ = parts.port  # a port that isn't a number raises here
        except ValueError:
            parts, host = None, ""
        # A web address someone can follow: http(s), a host with a dot, no spaces, quotes or angle brackets.
        if parts is None or parts.scheme not in ("http", "https") or "." not in host.strip(".") or any(
                c in field.data for c in ' "<>\\'):
            raise ValidationError("Please enter a web address starting with https:// (or http://), "
                                  "like https://www.meetup.com/your-group/.")


class InviteForm(Form):
    name = StringField("Their name", filters=[strip], validators=[at_most(ORGANIZER_NAME_MAX, "Their name"), one_line,
                                                                   no_markup])
    email = StringField("Their email address", filters=[strip], validators=[at_most(EMAIL_MAX, "Their email address")])

    def validate_name(self, field) -> None:
        if not field.data:
            raise StopValidation("Please enter their name, as the group page will list it.")

    def validate_email(self, field) -> None:
        if problem := email_problem(field.data or ""):
            raise ValidationError(problem.replace("Enter your email address.", "Please enter their email address."))
