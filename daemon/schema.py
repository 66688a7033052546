"""The JSON Schema of the configuration file, generated from the models in ``settings``.

``config/grantwarden.schema.json`` is this output (``make schema`` writes it; a test fails when
it is stale), so editors can complete and check a grantwarden file. One adjustment: in the file
a tenant may leave out what it inherits from its ``parent`` or from ``defaults``, so only
``name``, ``org_id`` and ``credentials`` are required there.
"""

from __future__ import annotations

import json
from typing import Any

from daemon import settings

FILE_REQUIRED_TENANT_FIELDS = ["name", "org_id", "credentials"]


def generate() -> dict[str, Any]:
    schema = settings.Settings.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "grantwarden configuration"
    tenant = schema["$defs"]["Tenant"]
    tenant["required"] = FILE_REQUIRED_TENANT_FIELDS
    return schema


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True) + "\n"
