"""Serializer fields that hold JSON input to exactly what the contract allows.

Each field also has a glance(): the value if it is plainly valid, else MISS. A glance accepts
nothing the field refuses and gives what the field would; anything it is unsure of is left to the
field, which says what is wrong (inputs.py).
"""

import math
import re
import unicodedata

from rest_framework import serializers
from rest_framework.fields import empty

from ..limits import REGION_MAX_LENGTH, USERNAME_MAX_LENGTH

_FORBIDDEN_CATEGORIES = {"Cc", "Cs"}  # control characters and lone surrogates
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
MISS = object()


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: no strings, floats or booleans."""

    default_error_messages = {"invalid": "A JSON integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        # The range as a message, not a failure to convert: 10**22 is out of range, not "not an integer".
        for validator in self.validators:
            validator(data)
        return data

    def glance(self, data):
        if type(data) is not int or not _within(data, self.min_value, self.max_value):
            return MISS
        return data


class StringOnly:
    """Refuses JSON values that are not strings, where DRF would turn 0 into "0"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StringOnly, serializers.CharField):
    default_error_messages = {"invalid": "A string is required."}

    def glance(self, data):
        plain = type(data) is str and data and data.strip() == data and len(data) <= (self.max_length or len(data))
        return data if plain else MISS


class StrictSlugField(StringOnly, serializers.SlugField):
    def glance(self, data):
        plain = type(data) is str and len(data) <= self.max_length and _SLUG.fullmatch(data)
        return data if plain else MISS


class RegionField(StrictSlugField):
    """One of a game's regions, where a call may name one (the service judges which are the game's):
    `?region=` is an invalid value, not an absent one."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


def region_field(**kwargs) -> RegionField:
    return RegionField(max_length=REGION_MAX_LENGTH, **{"required": False, **kwargs})


class PeriodField(StringOnly, serializers.CharField):
    """The period a read names: 'current' (as when none is named) or a closed period's id, an
    integer. `?period=` is an invalid value, not an absent one."""

    PERIOD = re.compile(r"current|[1-9][0-9]{0,17}")
    default_error_messages = {"invalid": "Must be 'current' or a period's id (a positive integer)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "current (the default), or a closed period's id: read its final standings")
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if type(data) is int and 0 < data < 10**18:  # a JSON body may name the id as a number
            return data
        value = super().to_internal_value(data)
        if not self.PERIOD.fullmatch(value):
            self.fail("invalid")
        return value if value == "current" else int(value)

    def glance(self, data):
        if type(data) is not str or not self.PERIOD.fullmatch(data):
            return MISS
        return data if data == "current" else int(data)


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter: `?top=` is an invalid value, not an absent one."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

    def glance(self, data):
        # Plain digits only: signs, spaces and decimals are the field's to judge.
        if type(data) is not str or not (data.isascii() and data.isdigit()) or len(data) > 18:
            return MISS
        value = int(data)
        return value if _within(value, self.min_value, self.max_value) else MISS


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

    def glance(self, data):
        # Printable and of a valid length once trimmed: to_internal_value accepts every such name alike.
        if type(data) is not str:
            return MISS
        value = data.strip()
        return value if 0 < len(value) <= USERNAME_MAX_LENGTH and value.isprintable() else MISS

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in value):
            self.fail("control")
        return value


class PlayerIdsField(serializers.CharField):
    """Comma-separated player ids in a query string: the distinct ones, in order, at most `most`."""

    def __init__(self, *, most: int, **kwargs):
        self.most = most
        super().__init__(**kwargs)

    def run_validation(self, data=empty):
        ids = _distinct_ids(super().run_validation(data))  # the string, trimmed and within max_length
        if len(ids) > self.most:
            raise serializers.ValidationError(f"at most {self.most} player ids")
        return ids

    def glance(self, data):
        if type(data) is not str or not 0 < len(data) <= self.max_length or data.strip() != data:
            return MISS
        ids = _distinct_ids(data)
        return ids if len(ids) <= self.most else MISS


class HeaderField(serializers.CharField):
    """A header's value; absent or empty is None."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, required=False, **kwargs)

    def glance(self, data):
        if data is None:
            return None
        plain = type(data) is str and data and data.strip() == data and len(data) <= self.max_length
        return data if plain else MISS


class UsernameListField(serializers.ListField):
    def glance(self, data):
        if type(data) is not list or len(data) > self.max_length:
            return MISS
        names = [self.child.glance(item) for item in data]
        return MISS if MISS in names else names


def _distinct_ids(value: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _within(value: int, minimum: int | None, maximum: int | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
