"""Secret references in the configuration: ``{env: NAME}``, ``{file: PATH}`` or a literal.

A reference is resolved when it is used, not when the file is read, so a secret file that
Kubernetes rotates in place is picked up at the next token request. Nothing here ever puts a
secret's value into a repr, an exception message or a JSON dump of the settings: errors name the
reference (the variable or the path), never what it holds, and never in the shape
"<path>: <reason>" (the redactor would hide the reason of a path ending in ``token`` or
``secret``). Literal secrets are accepted with a warning because they end up in version control.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pydantic

MAX_SECRET_BYTES = 64 * 1024


class SecretUnavailableError(Exception):
    """A secret reference cannot be resolved; the message names the reference, not a value."""


class SecretRef(pydantic.BaseModel):
    """Where a secret lives. Exactly one of ``env``, ``file`` or a literal."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    env: str | None = pydantic.Field(default=None, min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = pydantic.Field(default=None, min_length=1)
    literal: str | None = pydantic.Field(default=None, repr=False, exclude=True)

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [name for name in ("env", "file", "literal") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a secret is {env: NAME}, {file: PATH} or a literal string")
        if self.literal is not None and not self.literal:
            raise ValueError("a literal secret must not be empty")
        return self

    @property
    def is_literal(self) -> bool:
        return self.literal is not None

    def describe(self) -> str:
        """Where the secret comes from, safe to print."""
        if self.env is not None:
            return f"env:{self.env}"
        if self.file is not None:
            return f"file:{self.file}"
        return "literal"

    def reveal(self, environ: Mapping[str, str]) -> str:
        """The secret's value; raises ``SecretUnavailableError`` naming the reference.

        ``environ`` is where ``{env: NAME}`` is looked up, always given: the command line passes
        the process's environment once, and the daemon passes the one it was composed with
        (``runtime.Options.environ``) down to every mint; nothing here reads ``os.environ``.
        """
        if self.literal is not None:
            return self.literal
        if self.env is not None:
            value = environ.get(self.env)
            if not value:
                raise SecretUnavailableError(f"environment variable {self.env} is not set or empty")
            return value
        assert self.file is not None  # guaranteed by _exactly_one
        return _read_secret_file(Path(self.file))


def _read_secret_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretUnavailableError(f"cannot read secret file {path} ({exc.strerror})") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretUnavailableError(f"secret file {path} is larger than {MAX_SECRET_BYTES} bytes")
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretUnavailableError(f"secret file {path} is not UTF-8 text") from None
    if not value:
        raise SecretUnavailableError(f"secret file {path} is empty")
    return value


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return {"literal": value}
    return value


_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "a literal secret (accepted, with a warning)"},
        {
            "type": "object",
            "properties": {"env": {"type": "string"}},
            "required": ["env"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"file": {"type": "string"}},
            "required": ["file"],
            "additionalProperties": False,
        },
    ]
}

Secret = Annotated[
    SecretRef,
    pydantic.BeforeValidator(_coerce),
    pydantic.WithJsonSchema(_SCHEMA),
]
