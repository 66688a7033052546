"""The JSON Schema of the configuration file, generated from the models in ``settings``.

``grantwarden.schema.json`` beside this module is this output, shipped as package data
(``shipped()`` reads it with importlib.resources; ``make schema`` writes it; a test fails when it
is stale), so editors can complete and check a grantwarden file. Two adjustments: in the file
a tenant may leave out what it inherits from its ``parent`` or from ``defaults``, so only
``name``, ``org_id`` and ``credentials`` are required there; and the file itself must list its
tenants (``tenants: []`` for none), which the loader, not the model, insists on.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

from grantwarden.config import models as settings

SHIPPED = "grantwarden.schema.json"
FILE_REQUIRED_TENANT_FIELDS = ["name", "org_id", "credentials"]


def generate() -> dict[str, Any]:
    schema = settings.Settings.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "grantwarden configuration"
    tenant = schema["$defs"]["Tenant"]
    tenant["required"] = FILE_REQUIRED_TENANT_FIELDS
    schema["required"] = ["tenants"]
    return schema


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True) + "\n"


def shipped() -> str:
    """The schema file inside the installed package (the same text as ``render()``)."""
    return importlib.resources.files(__package__).joinpath(SHIPPED).read_text(encoding="utf-8")
