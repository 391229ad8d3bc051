"""The organizer's new-series form: the event form's title, description, place and capacity checks,
with a recurrence, a time of day, a length and an end instead of two times."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from webapp.forms import Form
from webapp.organize.forms import MEETING_SOURCES, EventForm
from webapp.series.recurrence import COUNT_MAX, KINDS, YEARS_MAX, RecurrenceError, rule_for
from webapp.series.schedule import ScheduleChange
from webapp.series.services import SeriesFields
from webapp.slots.services import SlotError, check_fits, checked_offer
from webapp.validators import one_line, strip

ENDS = {"count": "After a number of sessions", "date": "On a date"}
LENGTH_MAX = 12 * 60
# The event form's choice (its field and checks, inherited below), said of each session.
SERIES_MEETING_SOURCES = {**MEETING_SOURCES, "zoom": "Create a Zoom meeting for each session: each confirmed "
                                                     "attendee gets a Zoom link of their own"}


class SeriesForm(EventForm):
    # The event form's own times don't apply: a series has a day, a time of day and a length.
    starts_at = None
    ends_at = None
    registration_opens_at = None
    registration_closes_at = None

    recurrence = RadioField("How often", choices=[SelectChoice(k, v) for k, v in KINDS.items()],
                            default="biweekly", validate_choice=False)
    custom_rule = StringField("Custom rule", filters=[strip], validators=[one_line])
    first_on = StringField("First session", filters=[strip])
    start_time = StringField("Starts at", filters=[strip])
    length_minutes = StringField("Length in minutes", filters=[strip], default="60")
    end_kind = RadioField("Ends", choices=[SelectChoice(k, v) for k, v in ENDS.items()], default="count",
                          validate_choice=False)
    end_count = StringField("Number of sessions", filters=[strip], default="8")
    end_on = StringField("Last day", filters=[strip])

    # Slots in each session (optional): all three, or none.
    slot_label = StringField("Slot label", filters=[strip])
    slot_minutes = StringField("Minutes per slot", filters=[strip])
    slot_how_many = StringField("How many slots", filters=[strip])

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.values: dict = {}

    def validate_recurrence(self, field) -> None:
        if field.data not in KINDS:
            field.data = "biweekly"
            raise ValidationError("Please choose how often the series meets.")

    def validate_first_on(self, field) -> None:
        self.values["first_on"] = None
        try:
            day = date.fromisoformat(field.data[:10]) if len(field.data) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise ValidationError("Please enter the first session’s day, like 2027-01-12.")
        if day < self.today:
            raise ValidationError("The first session must be today or later.")
        if day > self.today + timedelta(days=366 * YEARS_MAX):
            raise ValidationError(f"The first session must be within {YEARS_MAX} years.")
        self.values["first_on"] = day

    def validate_start_time(self, field) -> None:
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", field.data or ""):
            raise ValidationError("Please enter the time like 18:00 (New York time).")
        self.values["local_time"] = time.fromisoformat(field.data)

    def validate_length_minutes(self, field) -> None:
        if not re.fullmatch(r"[0-9]{1,4}", field.data or "") or not 5 <= int(field.data) <= LENGTH_MAX:
            raise ValidationError(f"The length must be a whole number of minutes from 5 to {LENGTH_MAX}.")
        self.values["duration_minutes"] = int(field.data)

    def validate_custom_rule(self, field) -> None:
        if self.recurrence.data != "custom":
            return
        try:
            self.values["rrule"] = rule_for("custom", self.today, field.data)
        except RecurrenceError as error:
            raise ValidationError(str(error)) from None

    def validate_end_kind(self, field) -> None:
        if field.data not in ENDS:
            field.data = "count"
            raise ValidationError("Please choose how the series ends.")

    def validate_end_count(self, field) -> None:
        if self.end_kind.data != "count":
            return
        if not re.fullmatch(r"[0-9]{1,4}", field.data or "") or not 1 <= int(field.data) <= COUNT_MAX:
            raise ValidationError(f"The number of sessions must be from 1 to {COUNT_MAX}.")
        self.values["end_count"] = int(field.data)

    def validate_end_on(self, field) -> None:
        if self.end_kind.data != "date":
            return
        try:
            day = date.fromisoformat(field.data[:10]) if len(field.data) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise ValidationError("Please enter the last day, like 2027-06-30.")
        first = self.values.get("first_on")
        if first and day < first:
            raise ValidationError("The last day can’t be before the first session.")
        if day > self.today + timedelta(days=366 * YEARS_MAX):
            raise ValidationError(f"The last day must be within {YEARS_MAX} years.")
        self.values["end_on"] = day

    def _check_slots(self, name: str) -> None:
        """The slots' own checks (webapp/slots/services.py); each field shows the message that is its own."""
        self.values["slot_offer"] = None
        if not (self.slot_label.data or self.slot_minutes.data or self.slot_how_many.data):
            return
        try:
            offer = checked_offer(self.slot_label.data, self.slot_minutes.data, self.slot_how_many.data)
            if length := self.values.get("duration_minutes"):
                check_fits(0, offer[1], offer[2], length, "session")
        except SlotError as error:
            if error.field == name:
                raise ValidationError(error.message) from None
            return
        self.values["slot_offer"] = offer

    def validate_slot_label(self, field) -> None:
        self._check_slots("label")

    def validate_slot_minutes(self, field) -> None:
        self._check_slots("minutes")

    def validate_slot_how_many(self, field) -> None:
        self._check_slots("how_many")

    def slot_offer(self) -> dict | None:
        """The slots each session offers, as `offer_series_slots` takes them; None when none."""
        offer = self.values.get("slot_offer")
        return dict(zip(("label", "minutes", "how_many"), offer, strict=True)) if offer else None

    def series_fields(self) -> SeriesFields:
        first_on = self.values["first_on"]
        kind = self.recurrence.data
        rrule = self.values["rrule"] if kind == "custom" else rule_for(kind, first_on)
        return SeriesFields(
            title=self.title.data, description=self.description.data or "", rrule=rrule, first_on=first_on,
            local_time=self.values["local_time"], duration_minutes=self.values["duration_minutes"],
            end_count=self.values.get("end_count"), end_on=self.values.get("end_on"), is_online=self.is_online,
            capacity=self.capacity_value, is_zoom_meeting=self.is_zoom_meeting,
            meeting_url=(self.meeting_url.data or None) if self.is_online and not self.is_zoom_meeting else None,
            venue_name=None if self.is_online else self.venue_name.data or None,
            venue_address=None if self.is_online else self.venue_address.data or None,
            venue_accessibility=None if self.is_online else self.venue_accessibility.data or None,
        )


def today_in(now: datetime, zone) -> date:
    return now.astimezone(zone).date()


def kind_of(rrule: str, first_on: date) -> str:
    """The New series form's choice a series' rule came from ("custom" when none gives it)."""
    for kind in ("weekly", "biweekly", "monthly"):
        if rule_for(kind, first_on) == rrule:
            return kind
    return "custom"


class ScheduleForm(Form):
    """Change schedule: the New series form's recurrence and end, parsed by its own checks, and the
    day the new schedule starts (the time of day is "this and all following" on a session)."""

    # Made afresh, not SeriesForm's: fields are validated (and errors focused) in the order they're made.
    recurrence = RadioField("How often", choices=[SelectChoice(k, v) for k, v in KINDS.items()],
                            validate_choice=False)
    custom_rule = StringField("Custom rule", filters=[strip], validators=[one_line])
    first_on = StringField("New schedule starts on", filters=[strip])
    end_kind = RadioField("Ends", choices=[SelectChoice(k, v) for k, v in ENDS.items()], validate_choice=False)
    end_count = StringField("Number of sessions in all", filters=[strip])
    end_on = StringField("Last day", filters=[strip])

    # The New series form's own parsing (one set of rules for both forms).
    validate_recurrence = SeriesForm.validate_recurrence
    validate_custom_rule = SeriesForm.validate_custom_rule
    validate_end_kind = SeriesForm.validate_end_kind
    validate_end_count = SeriesForm.validate_end_count
    validate_end_on = SeriesForm.validate_end_on

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.values: dict = {}

    @classmethod
    def of(cls, series, starts_on: date, *, today: date) -> ScheduleForm:
        """The form as the series is now, its new schedule starting on `starts_on`."""
        kind = kind_of(series.rrule, series.first_on)
        return cls(formdata=None, today=today, data=dict(
            recurrence=kind, custom_rule=series.rrule if kind == "custom" else "", first_on=starts_on.isoformat(),
            end_kind="count" if series.end_count else "date", end_count=str(series.end_count or ""),
            end_on=series.end_on.isoformat() if series.end_on else ""))

    def validate_first_on(self, field) -> None:
        self.values["first_on"] = None
        try:
            day = date.fromisoformat(field.data[:10]) if len(field.data or "") == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise ValidationError("Please enter the day the new schedule starts, like 2027-01-12.")
        if day < self.today:
            raise ValidationError("The new schedule must start today or later.")
        self.values["first_on"] = day

    def schedule_change(self) -> ScheduleChange:
        first_on = self.values["first_on"]
        kind = self.recurrence.data
        rrule = self.values["rrule"] if kind == "custom" else rule_for(kind, first_on)
        return ScheduleChange(rrule, first_on, end_count=self.values.get("end_count"),
                              end_on=self.values.get("end_on"))


class SlotDefaultForm(Form):
    """One of a series' slot defaults, added or edited (checked by the slots' own rule in the service)."""

    label = StringField("Slot label", filters=[strip])
    minutes = StringField("Minutes per slot", filters=[strip])
    how_many = StringField("How many slots", filters=[strip])
