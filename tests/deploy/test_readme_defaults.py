"""README.md's configuration table against the configuration models: the defaults people read.

Operators size a deployment from the README's `| key | default | meaning |` table, so a default
there that the code does not have is a wrong promise (it said `minting.burst` 20 while the code
said 1). Covers: every key of the table names a real setting of ``grantwarden.config.models``;
its default is the model's (numbers, durations such as `60s`, booleans, strings); `none` is
an unset or empty default (of the field or of the optional block around it), `required` a field
without one; `defaults` and "the only one" mark
tenant fields that inheritance fills (required on ``Tenant``, present in ``defaults`` where
said); and the table is found and read at all.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import pydantic
import pytest

from grantwarden.config import models, values
from tests.deploy.support import REPO

README = REPO / "README.md"
HEADER = "| key | default | meaning |"


def _table_rows() -> list[tuple[str, str]]:
    """(key, default as written) for every key of the configuration table, in order."""
    text = README.read_text(encoding="utf-8")
    assert HEADER in text, f"README.md has no configuration table starting with {HEADER!r}"
    lines = text.split(HEADER, 1)[1].strip().splitlines()[1:]  # without the |---| line
    rows: list[tuple[str, str]] = []
    for line in lines:
        if not line.startswith("|"):
            break
        keys_cell, default_cell, _ = line.strip("| ").split(" | ", 2)
        keys = _keys(re.findall(r"`([^`]+)`", keys_cell))
        defaults = [part.strip() for part in default_cell.split(", ")]
        if len(keys) > 1 and len(defaults) != len(keys):
            defaults = [default_cell.strip()] * len(keys)  # one default for every key of the row
        rows.extend(zip(keys, defaults, strict=True))
    return rows


def _keys(written: list[str]) -> list[str]:
    """Keys after the first may be written relative to its parent: `tenants[].api_base_url`, `login_base_url`."""
    parent = written[0].rpartition(".")[0]
    return [written[0]] + [key if "." in key else f"{parent}.{key}" for key in written[1:]]


def _model_of(annotation: Any) -> Any:
    """The model inside ``X | None``, ``list[X]`` or ``dict[str, X]``; the annotation itself otherwise."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (list, dict, typing.Union, types.UnionType) and args:
        return _model_of(args[-1])
    return annotation


def _fields(key: str) -> list[tuple[type[pydantic.BaseModel], str, pydantic.fields.FieldInfo]]:
    """The models and fields along ``key`` (`blueprints.NAME.grants.roles`, `tenants[].region`), the named one last."""
    model: Any = models.Settings
    chain = []
    for part in [part.removesuffix("[]") for part in key.split(".") if part != "NAME"]:
        assert part in model.model_fields, f"README key {key}: {model.__name__} has no field {part!r}"
        chain.append((model, part, model.model_fields[part]))
        model = _model_of(model.model_fields[part].annotation)
    return chain


def _same(written: str, default: Any) -> bool:
    text = written.strip("`").strip('"')
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, int | float):
        try:
            return values.parse_duration(text) == default  # a number, or a duration such as 60s or 5m
        except ValueError:
            return False
    return text == str(default)


ROWS = _table_rows()


def test_the_configuration_table_is_found_and_read() -> None:
    keys = [key for key, _ in ROWS]
    assert len(keys) >= 30
    assert {"server.listen", "minting.burst", "tenants[].login_base_url", "tenants[].regrant"} <= set(keys)


@pytest.mark.parametrize(("key", "written"), ROWS, ids=[key for key, _ in ROWS])
def test_every_documented_default_is_the_models_default(key: str, written: str) -> None:
    chain = _fields(key)
    model, name, field = chain[-1]
    if written == "required":
        assert field.is_required(), f"README says {key} is required; the model defaults it to {field.default!r}"
    elif written in ("`defaults`", "the only one"):  # filled by inheritance, so required once loaded
        assert field.is_required(), f"{key} is inherited, so {model.__name__} must require it"
        if written == "`defaults`":
            assert name in models.Defaults.model_fields, f"README says {key} comes from defaults, which lacks it"
    elif written == "none":  # unset: the field, or the optional block around it (admin_credentials)
        unset = [f for _, _, f in chain if not f.is_required() and f.default in (None, [])]
        assert unset, f"README says {key} is unset by default; the code says {field.default!r}"
    elif written == "the six of the example":
        assert len(field.default) == 6, f"{key} defaults to {len(field.default)} probes"
    else:
        assert not field.is_required(), f"README gives {key} a default, the model requires it"
        assert _same(written, field.default), f"README says {key} defaults to {written}; code: {field.default!r}"
