"""Per-tenant state on disk: the rotating refresh token of an authorization-code tenant.

Refresh tokens rotate at every use (platform.md §1.4: each refresh returns a new one), so the token
that works tomorrow exists only after today's refresh: it must survive restarts, and a crash must
never leave half a file. Each write therefore goes to a temporary file in the same directory
(created exclusively, 0600), is flushed and fsynced, renamed over ``<tenant>.json``, and the
directory is fsynced: after a crash the file holds the old state or the new one, never a mix.
The directory is created 0700 when missing.

Writers race: the daemon after each refresh (``usergrant``), ``grantwarden authorize`` after a
person's consent, a ``check`` run beside the daemon. ``save`` locks the directory and, given
``expected``, writes only if the file still holds that refresh token (compare and swap), so a
refresh finishing late never overwrites a fresh authorization.

Nothing here logs. Errors name the file and what is wrong with it, never its content; tokens read
are registered with the redactor before anyone can print them.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pydantic

from grantwarden.base import redaction
from grantwarden.config import models as settings

MAX_BYTES = 64 * 1024  # a state file is a few hundred bytes; anything bigger is not ours
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class StateFileError(Exception):
    """A state file that exists but cannot be used; names the file, never its content."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"state file {path}: {problem}")
        self.path = path
        self.problem = problem


class State(pydantic.BaseModel):
    """What one tenant's file holds: only what the next refresh and a reader of ``status`` need.

    ``previous_refresh_token`` is the token that obtained ``refresh_token``; it is kept until a
    refresh with ``refresh_token`` succeeds, as the fallback when the newest one is refused.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")

    refresh_token: str = pydantic.Field(min_length=1, repr=False)
    previous_refresh_token: str | None = pydantic.Field(default=None, min_length=1, repr=False)
    org_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    scopes: tuple[str, ...] = ()
    updated_at: str  # ISO 8601, UTC: when the platform issued refresh_token

    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.refresh_token, self.previous_refresh_token) if t)


KEYS = frozenset(State.model_fields)


def stamp(epoch_s: float) -> str:
    """``updated_at`` for a moment in epoch seconds (from the injected clock, never read here)."""
    return datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC).isoformat(timespec="seconds")


def path_for(state_dir: Path, tenant: str) -> Path:
    if not re.fullmatch(settings.TENANT_NAME, tenant):  # a tenant name is a safe file name, nothing else
        raise ValueError(f"not a tenant name: {tenant!r}")
    return Path(state_dir) / f"{tenant}.json"


def read(state_dir: Path, tenant: str, *, redactor: redaction.Redactor | None = None) -> State | None:
    """The tenant's state; None when there is no file. ``StateFileError`` when it is unusable."""
    path = path_for(state_dir, tenant)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(path, f"cannot read it: {exc.strerror}") from None
    state = _parse(path, data)
    if redactor is not None:
        for token in state.tokens():
            redactor.add(token)
    return state


def save(state_dir: Path, tenant: str, state: State, *, expected: str | None = None) -> bool:
    """Write ``state`` atomically; with ``expected``, only while the file holds that refresh token.

    Returns False (and writes nothing) when another writer replaced the token meanwhile.
    Raises ``OSError`` when the directory cannot be created or written.
    """
    path = path_for(state_dir, tenant)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(path.parent) as directory:
        if expected is not None:
            try:
                current = read(path.parent, tenant)
            except StateFileError:
                current = None
            if current is None or current.refresh_token != expected:
                return False
        _replace(path, json.dumps(state.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
        os.fsync(directory)  # the rename itself must reach the disk
    return True


def _parse(path: Path, data: bytes) -> State:
    """The state in ``data``; problems are raised outside ``except`` so no chained error keeps the text."""
    problem, raw = _problem_with_json(data)
    if problem is None:
        try:
            return State.model_validate(raw)
        except pydantic.ValidationError as exc:
            found = [
                f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)[:3]
            ]
            problem = "; ".join(found)
    raise StateFileError(path, problem)


def _problem_with_json(data: bytes) -> tuple[str | None, object]:
    if len(data) > MAX_BYTES:
        return f"larger than {MAX_BYTES} bytes", None
    try:
        return None, json.loads(data.decode("utf-8"))  # we write UTF-8; json.loads(bytes) would guess
    except (UnicodeDecodeError, RecursionError):
        return "not UTF-8 JSON", None
    except json.JSONDecodeError as exc:  # msg and position only: the text may hold a token
        return f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})", None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[int]:
    """An exclusive lock on the directory (released when the descriptor closes), and its fd."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield descriptor
    finally:
        os.close(descriptor)


def _replace(path: Path, text: str) -> None:
    """Temporary file (0600, exclusive) → write → flush → fsync → rename over ``path``."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, _CREATE, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # the umask may only remove bits; this says which remain
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
