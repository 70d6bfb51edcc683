"""A request's input, parsed with its serializer, at a glance first.

When every field of the serializer has a glance (fields.py) and every value is plainly valid,
the glance's values are the input, with no serializer built. Otherwise the serializer runs: it
says what is wrong, or accepts what the glance was unsure of. Either way the result is the same.
"""

from functools import cache

from rest_framework import serializers
from rest_framework.fields import empty

from .fields import MISS


class InputParser:
    """The serializer's input from a request's data (a query or a JSON body)."""

    def __init__(self, serializer_class: type[serializers.Serializer], *, refuse_unknown: bool):
        self.serializer_class = serializer_class
        self.refuse_unknown = refuse_unknown
        fields = serializer_class().fields
        self.names = frozenset(fields)
        self.glances = _glances(serializer_class, fields)

    def parse(self, data) -> dict:
        """The validated input; serializers.ValidationError if it is not valid."""
        if self.glances is not None and (found := self._glance(data)) is not None:
            return found
        serializer = self.serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        if self.refuse_unknown and (unknown := sorted(set(data) - self.names)):
            raise serializers.ValidationError({name: ["unknown query parameter"] for name in unknown})
        return serializer.validated_data

    def _glance(self, data) -> dict | None:
        if not hasattr(data, "get") or (self.refuse_unknown and not self.names.issuperset(data)):
            return None
        found = {}
        for name, glance, default in self.glances:
            value = data.get(name, MISS)
            if value is MISS:
                if default is MISS:
                    return None  # required: the serializer says so
                if default is not empty:
                    found[name] = default
                continue
            value = glance(value)
            if value is MISS:
                return None
            found[name] = value
        return found


@cache
def input_parser(serializer_class: type[serializers.Serializer], *, refuse_unknown: bool) -> InputParser:
    """The parser of a serializer's input, built once per serializer."""
    return InputParser(serializer_class, refuse_unknown=refuse_unknown)


def _glances(serializer_class, fields) -> list | None:
    """(name, glance, default) per field, or None if any field has no glance or the serializer
    validates more than its fields."""
    own_rules = serializer_class.validate is not serializers.Serializer.validate or any(
        hasattr(serializer_class, f"validate_{name}") for name in fields
    )
    if own_rules or not all(hasattr(field, "glance") for field in fields.values()):
        return None
    return [(name, field.glance, _default(field)) for name, field in fields.items()]


def _default(field):
    """MISS for a required field; `empty` for an optional one without a default (left out)."""
    if field.required:
        return MISS
    return empty if field.default is empty else field.get_default()
