"""``GRANTWARDEN_X__Y`` environment variables: overrides of the configuration file.

pydantic-settings reads them (``GRANTWARDEN_SERVER__LISTEN=...``, JSON for a whole section) into
a nested mapping that ``loading`` merges over the file before tenant inheritance, so that
``GRANTWARDEN_DEFAULTS__...`` reaches every tenant. Only ``GRANTWARDEN_`` variables are looked
at; a variable that cannot be read is named, never its value. Called by ``loading``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pydantic_settings

from grantwarden.config import models as settings_mod


class UnreadableError(Exception):
    """Variables that cannot be read: ``problems`` as ``("", why)`` pairs naming each one."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(why for _, why in problems))
        self.problems = problems


def overrides(environ: Mapping[str, str] | None) -> dict[str, Any]:
    """The settings ``GRANTWARDEN_`` variables in ``environ`` (``os.environ`` when None) set, as a
    nested mapping to merge over the file; raises ``UnreadableError``."""
    env_source = pydantic_settings.EnvSettingsSource(
        settings_mod.Settings,
        env_prefix="GRANTWARDEN_",
        env_nested_delimiter="__",
        case_sensitive=False,
    )
    # Only GRANTWARDEN_ variables can override anything; the rest (10,000 tenants' secrets, say)
    # would each be looked at once per setting by pydantic-settings for nothing.
    variables = os.environ if environ is None else environ
    env_source.env_vars = {
        lowered: value for key, value in variables.items() if (lowered := key.lower()).startswith("grantwarden_")
    }
    try:
        return dict(env_source())
    except pydantic_settings.SettingsError as exc:
        raise UnreadableError([("", str(exc).split("\n")[0])]) from None
    except (RecursionError, ValueError):
        raise UnreadableError(_unreadable_variables(env_source.env_vars)) from None


def _unreadable_variables(variables: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """Which GRANTWARDEN_ variables hold JSON too deep or too large to read, by name."""
    problems = []
    for name, value in variables.items():
        if not name.startswith("grantwarden_") or not value or value[:1] not in "[{":
            continue
        try:
            json.loads(value)
        except (RecursionError, ValueError):
            field = name.removeprefix("grantwarden_").split("__")[0]
            why = f'parsing field "{field}" from {name.upper()}: JSON nested too deeply or too large to read'
            problems.append(("", why))
    return problems or [("", "a GRANTWARDEN_ variable holds JSON nested too deeply or too large to read")]
