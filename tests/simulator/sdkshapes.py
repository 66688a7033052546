"""A strict reading of JSON against the official SDK's models (``purecloudplatformclientv2``).

The SDK's own deserializer is lenient: it skips fields it does not know, turns a dict into a
``str`` without complaint and maps an enum value it does not know to ``"outdated_sdk_version"``.
A fake platform must not hide behind that, so ``problems`` walks a JSON value next to a model's
``swagger_types``/``attribute_map`` and reports every unknown field, every wrong type (``str``,
``int``, ``bool``, ``datetime``, lists, dicts, nested models) and every enum value the model's
setter refuses; ``deserialized`` then builds the model with the SDK itself. Used by
``test_sdk_routes``; not a test module.
"""

from __future__ import annotations

import json
import re
from typing import Any

import PureCloudPlatformClientV2 as gc  # noqa: N813 - the SDK's module name is long and CamelCase
from dateutil.parser import isoparse
from PureCloudPlatformClientV2 import models

OUTDATED = "outdated_sdk_version"


def _primitive(value: Any, klass: str) -> bool:
    if klass == "str":
        return isinstance(value, str)
    if klass == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if klass == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if klass == "bool":
        return isinstance(value, bool)
    if klass in ("datetime", "date"):
        if not isinstance(value, str):
            return False
        try:
            isoparse(value)
        except ValueError:
            return False
        return True
    return True  # object


def problems(value: Any, klass: str, where: str = "$") -> list[str]:
    """Everything about ``value`` the SDK model ``klass`` would not say the same way."""
    if value is None:
        return []
    if klass.startswith("list["):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} where {klass} was expected"]
        return [p for i, item in enumerate(value) for p in problems(item, klass[5:-1], f"{where}[{i}]")]
    if klass.startswith("dict("):
        inner = re.match(r"dict\(([^,]*), (.*)\)", klass)
        assert inner is not None
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} where {klass} was expected"]
        return [p for key, item in value.items() for p in problems(item, inner.group(2), f"{where}.{key}")]
    if klass in ("str", "int", "float", "bool", "datetime", "date", "object"):
        return [] if _primitive(value, klass) else [f"{where}: {value!r} is not a {klass}"]
    return _model_problems(value, klass, where)


def _model_problems(value: Any, klass: str, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: {type(value).__name__} where the model {klass} was expected"]
    instance = getattr(models, klass)()
    by_json = {instance.attribute_map[attr]: (attr, kind) for attr, kind in instance.swagger_types.items()}
    found = [f"{where}.{key}: not a field of {klass}" for key in value if key not in by_json]
    for key, item in value.items():
        if key not in by_json:
            continue
        attr, kind = by_json[key]
        found += problems(item, kind, f"{where}.{key}")
        if kind == "str" and isinstance(item, str):
            probe = getattr(models, klass)()
            setattr(probe, attr, item)
            if getattr(probe, attr) == OUTDATED:
                found.append(f"{where}.{key}: {item!r} is not a value the SDK's {klass} knows")
    return found


class _Response:
    def __init__(self, text: str) -> None:
        self.data = text

    def getheader(self, name: str) -> str:
        return "application/json"


def deserialized(text: str, klass: str) -> Any:
    """The SDK's own model for a response body (its deserializer, as an API call would use it)."""
    return gc.ApiClient().deserialize(_Response(text), klass)


def check(text: str, klass: str) -> list[str]:
    """Strict problems of a body, after proving the SDK itself can build the model from it."""
    deserialized(text, klass)
    return problems(json.loads(text), klass)
