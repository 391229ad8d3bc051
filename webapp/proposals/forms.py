"""The proposal form (with its co-organizer rows) and the reviewers' action form."""

from __future__ import annotations

import wtforms
from wtforms import (
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError

from webapp.accounts.services import email_problem
from webapp.forms import Form
from webapp.groups.services import organizer_name_key
from webapp.proposals.guidelines import COMMITMENTS, GUIDELINES
from webapp.proposals.models import (
    CADENCE_MAX,
    FORMAT_LABELS,
    INSTITUTION_MAX,
    LONG_TEXT_MAX,
    MAX_COORGANIZERS,
    MESSAGE_MAX,
    NAME_MAX,
    PERSON_NAME_MAX,
    TOPIC_MAX,
)
from webapp.validators import at_most, clean_text, no_markup, no_raw_html, normalize_newlines, one_line, strip


class MultiCheckboxField(SelectMultipleField):
    """Several checkboxes under one name; the template draws them, unknown values are dropped."""

    def pre_validate(self, form) -> None:
        known = {choice.value for choice in self.choices}
        self.data = [value for value in (self.data or []) if value in known]


def required_to_submit(message: str):
    """Required only when the proposal goes to the reviewers: a draft may be incomplete."""

    def check(form, field) -> None:
        if getattr(form, "for_review", False) and not (field.data or "").strip():
            raise StopValidation(message)

    return check


class CoorganizerForm(wtforms.Form):
    """One co-organizer row. A row left wholly blank is dropped, not an error."""

    name = StringField("Name", filters=[strip], validators=[
        at_most(PERSON_NAME_MAX, "A co-organizer’s name"), one_line, no_markup])
    email = StringField("Email address", filters=[strip])
    institution = StringField("Institution", filters=[strip],
                              validators=[at_most(INSTITUTION_MAX, "A co-organizer’s institution"), one_line,
                                          no_markup])

    @property
    def is_blank(self) -> bool:
        return not any((self.name.data, self.email.data, self.institution.data))

    def validate_name(self, field) -> None:
        if not self.is_blank and not field.data:
            raise ValidationError("Please enter this co-organizer’s name.")

    def validate_email(self, field) -> None:
        if self.is_blank:
            return
        if problem := email_problem(field.data):
            raise ValidationError(problem.replace("Enter your email address.", "Please enter their email address."))


LONG = dict(filters=[normalize_newlines])


class ProposalForm(Form):
    client_key = HiddenField()
    name = StringField("Group name", filters=[strip], validators=[
        required_to_submit("Please enter a name for the group."), at_most(NAME_MAX), one_line, no_markup])
    topic = StringField("Topic", filters=[strip], validators=[
        required_to_submit("Please say in a few words what the group is about."), at_most(TOPIC_MAX), one_line,
        no_markup])
    description = TextAreaField("Description", **LONG, validators=[
        required_to_submit("Please describe the group: it becomes the group’s page."), at_most(LONG_TEXT_MAX),
        clean_text, no_raw_html])
    need = TextAreaField("The need it serves, and for whom", **LONG, validators=[
        required_to_submit("Please tell us who the group is for and what it gives them."),
        at_most(LONG_TEXT_MAX, "The need it serves"),
        clean_text, no_raw_html])
    difference = TextAreaField("How it differs from existing groups", **LONG, validators=[
        required_to_submit("Please tell us how it differs from the groups we have (or say there is none like it)."),
        at_most(LONG_TEXT_MAX, "How it differs"), clean_text, no_raw_html])
    meeting_format = RadioField("Format", choices=[SelectChoice(k.value, v) for k, v in FORMAT_LABELS.items()],
                                validate_choice=False)
    cadence = StringField("How often you’ll meet", filters=[strip], validators=[
        required_to_submit("Please tell us how often the group will meet."), at_most(CADENCE_MAX, "How often you meet"),
        one_line, no_markup])
    first_event = TextAreaField("A first event idea", **LONG, validators=[
        required_to_submit("Please describe an idea for the first event."),
        at_most(LONG_TEXT_MAX, "The first event idea"),
        clean_text, no_raw_html])
    acknowledged = MultiCheckboxField("Organizers’ commitments", choices=[SelectChoice(g.anchor, g.acknowledgement)
                                                                         for g in COMMITMENTS])
    coorganizers = FieldList(FormField(CoorganizerForm), min_entries=1, max_entries=MAX_COORGANIZERS)

    def __init__(self, *args, proposer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.proposer = proposer
        self.for_review = False

    def validate_meeting_format(self, field) -> None:
        if field.data in (None, "", "None"):
            field.data = None
            if self.for_review:
                raise ValidationError("Please choose a format.")
            return
        if field.data not in FORMAT_LABELS:
            field.data = None
            raise ValidationError("Please choose one of the formats.")

    def validate_acknowledged(self, field) -> None:
        known = {g.anchor for g in COMMITMENTS}
        field.data = [a for a in (field.data or []) if a in known]
        if self.for_review and set(field.data) != known:
            raise ValidationError("Please confirm each commitment: they are what every group promises its members.")

    def validate_coorganizers(self, field) -> None:
        rows = [row for row in field.entries if not row.form.is_blank]
        if self.for_review and not rows:
            raise ValidationError("Please name at least one co-organizer (see “Share the load”).")
        emails = [(row.form.email.data or "").strip().lower() for row in rows]
        if len(set(emails)) != len(emails):
            raise ValidationError("Each co-organizer needs their own email address.")
        if self.proposer is not None and self.proposer.email in emails:
            raise ValidationError("You’re the proposer already: please list your co-organizers here, not yourself.")
        # The group page will list them under these names: the organizer-name rule says which are the same.
        names = [organizer_name_key(row.form.name.data or "") for row in rows]
        if len(set(names)) != len(names):
            raise ValidationError("Each co-organizer needs their own name.")

    def coorganizer_rows(self) -> list[dict]:
        return [
            {"name": row.form.name.data, "email": row.form.email.data, "institution": row.form.institution.data}
            for row in self.coorganizers.entries if not row.form.is_blank
        ]


ACTION_GUIDELINES = [SelectChoice(g.anchor, g.title) for g in GUIDELINES]


class ActionForm(Form):
    """A message and a button: comment, ask for changes, approve, decline, withdraw, resubmit."""

    expected_state = HiddenField()
    message = TextAreaField("Message", **LONG, validators=[at_most(MESSAGE_MAX), clean_text, no_raw_html])
    guidelines = MultiCheckboxField("Point at guidelines", choices=ACTION_GUIDELINES)
