"""Problems of a configuration, as a person reads them: ``path: what is wrong``, each once.

pydantic's errors become ``(path, why)`` pairs: the path walked through the data itself (a union
member's tag such as ``str`` is no key and is left out), moved from the tenant that inherited a
wrong value to where it was written (``inheritance.Family.origin``), and its words without
pydantic's ``input_value`` (a secret must never reach a message). ``unique`` keeps the first
problem at each path; ``text`` writes a path as the file spells it (``tenants[3].credentials``).
Called by ``loading``; knows no file and no line (``yamlfile.lines`` does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pydantic

from grantwarden.config import inheritance

Path = tuple[Any, ...]
UNKNOWN = "unknown setting (check its spelling and indentation)"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def from_validation(
    exc: pydantic.ValidationError, data: Any, family: inheritance.Family | None
) -> list[tuple[Path, str]]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc, kind = error["loc"], error["type"]
        named = bool(loc) and (kind == "missing" or loc[-1] in inheritance.TOGETHER.get(kind, ((), False))[0])
        path = (*_in_data(loc[:-1], data), loc[-1]) if named else _in_data(loc, data)  # the field may be unwritten
        if family is not None and len(path) >= 2 and path[0] == "tenants" and isinstance(path[1], int):
            path = family.origin(path[1], path[2:], kind)
        message = UNKNOWN if kind == "extra_forbidden" else str(error["msg"]).removeprefix("Value error, ")
        problems.append((path, message[:500]))
    return problems


def unique(problems: Iterable[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """The first problem at each path: one wrong value, one line (pydantic tells each member of a
    union, and every tenant that inherits it)."""
    seen: dict[Path, str] = {}
    for path, why in problems:
        seen.setdefault(path, why)
    return list(seen.items())


def _in_data(loc: Sequence[int | str], data: Any) -> Path:
    """``loc`` walked through the input itself: what is no key or index there is left out."""
    path: list[Any] = []
    for part in loc:
        found, child = inheritance.step(data, part)
        if found:
            path.append(part)
            data = child
    return tuple(path)


def text(path: Path | None, data: Any) -> str:
    """``tenants[3].credentials.client_secret``: list indices in brackets (told from a key 3 by
    walking ``data``, the document, where it still holds the path), plain keys bare, anything
    else quoted."""
    written = ""
    for part in path or ():
        if isinstance(part, int) and not isinstance(part, bool) and not isinstance(data, dict):
            written = f"{written}[{part}]"
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
            continue
        written = f"{written}.{key(part)}" if written else key(part)
        data = data.get(part) if isinstance(data, dict) else None
    return written


def key(value: object) -> str:
    """A key as it goes into a problem line: plain keys bare, anything else quoted (one line)."""
    if isinstance(value, str) and _PLAIN_KEY.match(value):
        return value
    return json.dumps(value if isinstance(value, str) else str(value))[:80]
