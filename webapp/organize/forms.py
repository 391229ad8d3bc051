"""The organizer's event form: every value checked on the server, typed values kept on errors."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from webapp.forms import Form
from webapp.organize.services import EventFields
from webapp.validators import at_most, clean_text, no_markup, no_raw_html, normalize_newlines, one_line, required, strip
from webapp.zoom.services import zoom_available

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
URL_MAX = 500
VENUE_NAME_MAX = 200
VENUE_ADDRESS_MAX = 300
VENUE_ACCESSIBILITY_MAX = 1000
CAPACITY_MAX = 100_000
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
FORMATS = {"online": "Online", "in_person": "In person"}
# How an online event's attendees join: a link the organizer pastes, or a Zoom meeting the site makes
# (only when the site has a Zoom connection: webapp/zoom).
MEETING_SOURCES = {"paste": "Paste a meeting link",
                   "zoom": "Create a Zoom meeting: each confirmed attendee gets a Zoom link of their own"}


def to_local_input(dt: datetime | None, zone: ZoneInfo) -> str:
    """A UTC time as a `datetime-local` value in site time."""
    return dt.astimezone(zone).strftime(LOCAL_FORMAT) if dt else ""


def parse_local(value: str, zone: ZoneInfo) -> datetime:
    """A `datetime-local` value (site time) as an aware datetime; ValueError with a message if not one."""
    try:
        naive = datetime.strptime(value[:40], LOCAL_FORMAT if len(value) == 16 else LOCAL_FORMAT + ":%S")
    except ValueError:
        raise ValueError("Use a date and time like 2026-12-03T18:00.") from None
    aware = naive.replace(tzinfo=zone)
    # A time skipped when clocks go forward does not survive the round trip through UTC.
    if aware.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError("That time doesn’t exist in New York (the clocks change then). Please pick another.")
    return aware


class EventForm(Form):
    title = StringField("Title", filters=[strip], validators=[
        required("Please give the event a title."), at_most(TITLE_MAX), one_line, no_markup])
    description = TextAreaField("Description", filters=[normalize_newlines], validators=[
        at_most(DESCRIPTION_MAX), clean_text, no_raw_html])
    starts_at = StringField("Starts", filters=[strip], validators=[required("Please enter when the event starts.")])
    ends_at = StringField("Ends", filters=[strip], validators=[required("Please enter when the event ends.")])
    meeting_format = RadioField("Format", choices=[SelectChoice(k, v) for k, v in FORMATS.items()],
                                default="online", validate_choice=False)
    meeting_source = RadioField("How attendees join", choices=[SelectChoice(k, v) for k, v in MEETING_SOURCES.items()],
                                default="paste", validate_choice=False)
    meeting_url = StringField("Meeting link", filters=[strip], validators=[
        at_most(URL_MAX, "The meeting link"), one_line])
    venue_name = StringField("Venue", filters=[strip], validators=[
        at_most(VENUE_NAME_MAX, "The venue’s name"), one_line, no_markup])
    venue_address = StringField("Address", filters=[strip],
                                validators=[at_most(VENUE_ADDRESS_MAX, "The address"), one_line, no_markup])
    venue_accessibility = TextAreaField("Accessibility of the venue", filters=[normalize_newlines], validators=[
        at_most(VENUE_ACCESSIBILITY_MAX, "The venue’s accessibility"), clean_text, no_markup])
    capacity = StringField("Capacity", filters=[strip])  # validate_capacity caps it at 9 digits
    registration_opens_at = StringField("Registration opens", filters=[strip])
    registration_closes_at = StringField("Registration closes", filters=[strip])
    release_unconfirmed_seats = BooleanField("Release unconfirmed seats to the waitlist")

    def __init__(self, *args, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.times: dict[str, datetime | None] = {}
        self.capacity_value: int | None = None

    @classmethod
    def for_event(cls, event, zone: ZoneInfo) -> EventForm:
        return cls.from_fields(EventFields.of(event), zone)

    @classmethod
    def from_fields(cls, fields: EventFields, zone: ZoneInfo) -> EventForm:
        """The form filled in from an event's fields (an event to edit, or a copy to save)."""
        return cls(zone=zone, data=dict(
            title=fields.title, description=fields.description,
            starts_at=to_local_input(fields.starts_at, zone), ends_at=to_local_input(fields.ends_at, zone),
            meeting_format="online" if fields.is_online else "in_person", meeting_url=fields.meeting_url or "",
            meeting_source="zoom" if fields.is_zoom_meeting else "paste",
            venue_name=fields.venue_name or "", venue_address=fields.venue_address or "",
            venue_accessibility=fields.venue_accessibility or "",
            capacity="" if fields.capacity is None else str(fields.capacity),
            registration_opens_at=to_local_input(fields.registration_opens_at, zone),
            registration_closes_at=to_local_input(fields.registration_closes_at, zone),
            release_unconfirmed_seats=fields.is_releasing_unconfirmed_seats,
        ))

    @property
    def is_online(self) -> bool:
        return self.meeting_format.data != "in_person"

    @property
    def is_zoom_meeting(self) -> bool:
        return self.is_online and self.meeting_source.data == "zoom"

    def _time(self, field) -> datetime | None:
        if not field.data:
            self.times[field.name] = None
            return None
        try:
            self.times[field.name] = parse_local(field.data, self.zone)
        except ValueError as error:
            self.times[field.name] = None
            raise ValidationError(str(error)) from None
        return self.times[field.name]

    def validate_starts_at(self, field) -> None:
        self._time(field)

    def _later_than(self, field, earlier: str, message: str) -> None:
        """`field`'s time, which must come after the `earlier` field's (when both were readable)."""
        later = self._time(field)
        first = self.times.get(earlier)
        if first and later and later <= first:
            raise ValidationError(message)

    def validate_ends_at(self, field) -> None:
        self._later_than(field, "starts_at", "The end must be after the start.")

    def validate_registration_opens_at(self, field) -> None:
        self._time(field)

    def validate_registration_closes_at(self, field) -> None:
        self._later_than(field, "registration_opens_at", "Registration must close after it opens.")

    def validate_meeting_format(self, field) -> None:
        if field.data not in FORMATS:
            field.data = "online"
            raise ValidationError("Please choose online or in person.")

    def validate_meeting_source(self, field) -> None:
        if not field.data:  # not offered (a published event keeps its choice): a pasted link
            field.data = "paste"
        if field.data not in MEETING_SOURCES:
            field.data = "paste"
            raise ValidationError("Please choose how attendees join.")
        if field.data == "zoom" and self.is_online and not zoom_available():
            field.data = "paste"
            raise ValidationError("This site can’t create Zoom meetings: its Zoom connection isn’t set up. "
                                  "Please paste a meeting link instead.")

    def validate_meeting_url(self, field) -> None:
        if not self.is_online or not field.data or self.is_zoom_meeting:
            return
        parts = urlsplit(field.data)
        if parts.scheme != "https" or not parts.netloc or " " in field.data:
            raise ValidationError("The meeting link must be a secure web address starting with https://.")

    def validate_venue_name(self, field) -> None:
        if not self.is_online and not field.data:
            raise ValidationError("Please name the venue of an in-person event.")

    def validate_capacity(self, field) -> None:
        if not field.data:
            self.capacity_value = None
            return
        if not re.fullmatch(r"[0-9]{1,9}", field.data) or int(field.data) < 1 or int(field.data) > CAPACITY_MAX:
            raise ValidationError(
                f"Capacity must be a whole number from 1 to {CAPACITY_MAX:,}, or blank for no limit.")
        self.capacity_value = int(field.data)

    def event_fields(self) -> EventFields:
        """The validated form as the organize services take it."""
        return EventFields(
            title=self.title.data, description=self.description.data or "",
            starts_at=self.times["starts_at"], ends_at=self.times["ends_at"], is_online=self.is_online,
            # Kept as typed: EventFields.place drops it for a Zoom meeting the site makes.
            meeting_url=self.meeting_url.data or None,
            is_zoom_meeting=self.is_zoom_meeting, venue_name=self.venue_name.data or None,
            venue_address=self.venue_address.data or None,
            venue_accessibility=self.venue_accessibility.data or None, capacity=self.capacity_value,
            registration_opens_at=self.times.get("registration_opens_at"),
            registration_closes_at=self.times.get("registration_closes_at"),
            is_releasing_unconfirmed_seats=bool(self.release_unconfirmed_seats.data),
        )
