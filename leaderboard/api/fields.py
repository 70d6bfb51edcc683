"""Serializer fields that hold JSON input to exactly what the contract allows."""

import math
import unicodedata

from rest_framework import serializers

from ..limits import USERNAME_MAX_LENGTH

_FORBIDDEN_CATEGORIES = {"Cc", "Cs"}  # control characters and lone surrogates


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: no strings, floats or booleans."""

    default_error_messages = {"invalid": "A JSON integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class StringOnly:
    """Refuses JSON values that are not strings, where DRF would turn 0 into "0"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StringOnly, serializers.CharField):
    default_error_messages = {"invalid": "A string is required."}


class StrictSlugField(StringOnly, serializers.SlugField):
    pass


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter: `?top=` is an invalid value, not an absent one."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class StrictNumberField(serializers.FloatField):
    """A finite JSON number only: no strings, booleans, NaN or infinities."""

    default_error_messages = {"invalid": "A finite JSON number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        return float(data)


class UsernameField(serializers.CharField):
    """1-150 characters after trimming, any Unicode except control characters."""

    default_error_messages = {
        "invalid": "A string is required.",
        "control": "Must not contain control characters.",
    }

    def __init__(self, **kwargs):
        super().__init__(max_length=USERNAME_MAX_LENGTH, trim_whitespace=True, **kwargs)

    @staticmethod
    def plainly_valid(data) -> str | None:
        """The trimmed name if it is valid at a glance (printable, of a valid length), else None.
        A cheap check for hot reads; every name it passes, to_internal_value accepts alike."""
        if not isinstance(data, str):
            return None
        value = data.strip()
        return value if 0 < len(value) <= USERNAME_MAX_LENGTH and value.isprintable() else None

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in value):
            self.fail("control")
        return value
