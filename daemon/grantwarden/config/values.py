"""The kinds of value a configuration setting holds: durations, enumerations, comparisons.

``models`` declares its settings with these. A duration is ``500ms``, ``30s``, ``5m``, ``2h`` or
a number of seconds, and is plain seconds once read; an enumeration (``Choice``) also takes the
boolean YAML 1.1 reads for its ``off``/``on`` member; ``below`` compares one setting with an
earlier one and fails with an error kind the loader knows (``inheritance.TOGETHER``). Pure
value rules: no file, no I/O.
"""

from __future__ import annotations

import enum
import math
import re
from typing import Annotated, Any, TypeVar

import pydantic
import pydantic_core
from pydantic_core import core_schema

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``500ms``, ``30s``, ``5m``, ``2h`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as 500ms, 30s, 5m, 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError("a duration is a number of seconds or a string such as 500ms, 30s, 5m, 2h")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("a duration must not be negative")
    return seconds


Duration = Annotated[
    float,
    pydantic.BeforeValidator(parse_duration),
    pydantic.WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DURATION.pattern}]}
    ),
]


class _Yaml11Booleans:
    """``Choice``'s marker: an enumeration with an ``off`` (or ``on``) member takes YAML 1.1's
    ``false`` (``true``) for it, since PyYAML reads an unquoted ``off`` as false (``mode: off``
    was refused as "Input should be 'off', ..."). Other enumerations take no boolean. The JSON
    Schema says so too: the members, or the boolean that spells one."""

    def __get_pydantic_core_schema__(self, source: Any, handler: pydantic.GetCoreSchemaHandler) -> Any:
        schema = handler(source)
        members: set[Any] = set()
        if isinstance(source, type) and issubclass(source, enum.Enum):
            members = {member.value for member in source}
        spelled = {flag: word for flag, word in ((False, "off"), (True, "on")) if word in members}
        if not spelled:
            return schema

        def read(value: Any) -> Any:
            return spelled.get(value, value) if isinstance(value, bool) else value

        told = f"YAML 1.1 reads an unquoted {' or '.join(spelled.values())} as a boolean: taken for that member"
        booleans = core_schema.literal_schema(list(spelled), metadata={"pydantic_js_updates": {"description": told}})
        written = core_schema.union_schema([schema, booleans])
        return core_schema.no_info_before_validator_function(read, schema, json_schema_input_schema=written)


E = TypeVar("E", bound=enum.Enum)
Choice = Annotated[E, _Yaml11Booleans()]
"""An enumeration as a YAML file writes it: every enumerated setting is declared ``Choice[...]``
(a test walks the models for any that is not)."""


def below(kind: str, name: str, limit: str, *, unit: str = "") -> Any:
    """A field validator: the field must be below the (earlier) field ``limit``, else error ``kind``.
    Both values are named, since either may be a default the file never wrote."""
    comparison = "shorter than" if unit else "smaller than"

    def check(value: float, info: pydantic.ValidationInfo) -> float:
        bound = info.data.get(limit)  # absent when that setting is itself wrong
        if bound is not None and value >= bound:
            told = f"{name} ({value:g}{unit}) must be {comparison} {limit} ({bound:g}{unit})"
            raise pydantic_core.PydanticCustomError(kind, told)
        return value

    return pydantic.field_validator(name)(check)


def _interval_floor(value: float) -> float:
    if value < 1:
        raise ValueError("probe_interval must be at least 1s")
    return value


ProbeInterval = Annotated[Duration, pydantic.AfterValidator(_interval_floor)]
