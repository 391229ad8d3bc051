"""The one base of the site's WTForms forms.

A value that lost an invisible control character on the way in (webapp/requests.py cleans it,
rather than refuse the whole form) is an error on its field: the form comes back with the cleaned
text and says why, and nothing is saved until the person has looked at it and sent it again.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, HiddenField, StringField

from webapp.requests import CLEANED_MESSAGE, cleaned_fields


def typed_fields(fields):
    """The fields a person types into (text boxes, not hidden fields or choices), sub-forms included."""
    for field in fields:
        if isinstance(field, FormField):
            yield from typed_fields(field.form)
        elif isinstance(field, FieldList):
            yield from typed_fields(field.entries)
        elif isinstance(field, StringField) and not isinstance(field, HiddenField):
            yield field


class Form(FlaskForm):
    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        # Only a form read from this request's body (not one filled from the database on a POST).
        from_request = self.meta.wrap_formdata(self, formdata) is not None
        self._cleaned = [field for field in typed_fields(self) if from_request and field.name in cleaned_fields()]
        for field in (f for f in self._cleaned if CLEANED_MESSAGE not in f.process_errors):
            # A processing error: validate() starts each field's errors from these, so this comes first;
            # also shown at once, on a form drawn again without validating (adding a co-organizer row).
            field.process_errors.insert(0, CLEANED_MESSAGE)
            field.errors = list(field.process_errors)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self._cleaned:
            if CLEANED_MESSAGE not in field.errors:  # Optional() and DataRequired() empty the errors they find
                field.errors.insert(0, CLEANED_MESSAGE)
        return valid and not self._cleaned
