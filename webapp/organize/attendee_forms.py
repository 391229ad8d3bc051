"""The forms organizers write to their attendees and their followers with: checked on the server, typed
values kept on errors."""

from __future__ import annotations

from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from webapp.forms import Form
from webapp.organize.models import MESSAGE_BODY_MAX, MESSAGE_SUBJECT_MAX, MessageAudience
from webapp.validators import at_most, clean_text, normalize_newlines, one_line, required, strip

AUDIENCES = {MessageAudience.CONFIRMED.value: "Confirmed attendees",
             MessageAudience.WAITLISTED.value: "People on the waitlist"}


class FollowersMessageForm(Form):
    """A message to a group's followers; every message form has these fields."""

    # A new one for every blank form: the same form sent twice sends one message.
    client_key = HiddenField()
    subject = StringField("Subject", filters=[strip], validators=[
        required("Please give the message a subject."), at_most(MESSAGE_SUBJECT_MAX), one_line])
    body = TextAreaField("Message", filters=[normalize_newlines], validators=[
        required("Please write the message."), at_most(MESSAGE_BODY_MAX), clean_text])


class MessageForm(FollowersMessageForm):
    """A message to an event's confirmed attendees or its waitlist."""

    audience = RadioField("Send to", choices=[SelectChoice(k, v) for k, v in AUDIENCES.items()],
                          default=MessageAudience.CONFIRMED.value, validate_choice=False)

    def validate_audience(self, field) -> None:
        if field.data not in AUDIENCES:
            field.data = MessageAudience.CONFIRMED.value
            raise ValidationError("Please choose who gets the message.")

    @property
    def audience_value(self) -> MessageAudience:
        return MessageAudience(self.audience.data)
