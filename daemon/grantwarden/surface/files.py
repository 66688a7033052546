"""The hand-off's file sink: one ``<tenant>.json`` per owned tenant whose token may go out.

For integrations that read files rather than ask (Vault Agent's file sink, spiffe-helper): each
file holds the JSON ``GET /v1/tenants/{tenant}/token`` answers. It is written as Vault Agent
writes its sink (command/agentproxyshared/sink/file/file_sink.go): a temporary name in the same
directory, created with the configured mode, written, then renamed over the file; here also
fsynced before the rename and the directory fsynced after it, so a reader sees the old file or
the new one, whole, even after a crash. A file is rewritten whenever its tenant's token changes
and removed when the token may no longer go out (another org, no identity check yet, no usable
token, the tenant removed, the daemon stopping).

Writes happen in one thread of their own, never on the event loop: the loop only notes which
tenants changed (``changed``, called by each ``access.Access``) and, a slice at a time, what
their files should hold; the thread encodes and writes. A refresh wave of 10,000 tenants is one
batch, not 10,000 turns of the loop. ``ready()`` is true when no change waits to be written
and no write failed: ``/readyz`` waits for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import heapq
import itertools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings

SLICE = 500  # tenants looked at per turn of the event loop
_OURS = re.compile(settings.TENANT_NAME.removesuffix("$") + r"\.json$|^\..+\.json\.tmp$")
_log = structlog.get_logger("grantwarden.handoff")


class Shared(Protocol):
    """A token a file may hold (``worker.handout.Handout``)."""

    @property
    def token(self) -> object: ...

    @property
    def usable_until(self) -> float: ...

    def as_json(self, now: float) -> dict[str, Any]: ...


class Sharing(Protocol):
    """One tenant's tokens as the sink sees them (``worker.access.Access``)."""

    @property
    def name(self) -> str: ...

    def shareable(self) -> Shared | None: ...

    def note_handed(self) -> None: ...


Lookup = Callable[[str], Sharing | None]
Content = dict[str, Any] | None  # a file's JSON, or None: no file


class FileSink:
    def __init__(self, *, directory: Path, mode: int, clock: clock_mod.Clock, lookup: Lookup) -> None:
        """``lookup(name)``: the running worker's access object of an owned tenant, or None."""
        self.directory, self.mode, self._clock, self._lookup = directory, mode, clock, lookup
        self._dirty: set[str] = set()
        self._written: dict[str, object] = {}  # the token each file holds
        self._failed: set[str] = set()
        self._expiry: list[tuple[float, int, str, object]] = []  # (usable_until, seq, tenant, token) of each file
        self._seq = itertools.count()
        self._wake = clock_mod.Event()
        self._idle = clock_mod.Event()  # set while nothing waits to be written
        self._idle.set()
        self._busy = False
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="handoff-files")

    def prepare(self) -> None:
        """At start, before any worker runs: the directory is there and writable; files of an
        earlier run are removed (their tokens were never checked by this one). Raises OSError."""
        if not self.directory.is_dir():
            raise OSError(f"handoff.files.directory {self.directory} does not exist")
        for path in self.directory.iterdir():
            if _OURS.match(path.name) and not path.is_dir():
                path.unlink(missing_ok=True)
        probe = self.directory / f".write-check.{os.getpid()}.json.tmp"
        _write(probe, b"{}", self.mode)
        probe.unlink()

    def changed(self, found: Sharing) -> None:
        """A tenant's token or identity changed: look at its file again soon."""
        self._dirty.add(found.name)
        self._idle.clear()
        self._wake.set()

    def ready(self) -> bool:
        """Every change written, no write failing."""
        return not self._dirty and not self._busy and not self._failed

    async def drained(self) -> None:
        """Return once every change noted so far is written (or failed): for tests and the demo."""
        await self._idle.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: write what changed, and look again at each file when its token ages out."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            self._wake.clear()
            self._due()
            if self._dirty:
                self._idle.clear()
                self._busy = True
                try:
                    batch = await self._plan()
                    failed = await loop.run_in_executor(self._executor, _apply, self.directory, self.mode, batch)
                finally:
                    self._busy = False
                self._done(batch, failed)
                continue
            delay = self._expiry[0][0] - self._clock.now() if self._expiry else float("inf")
            if delay > 0:
                self._idle.set()
            await self._clock.sleep(max(0.0, delay), wakeup=(stop, self._wake))

    async def stop(self) -> None:
        """Remove every file written: a stopped daemon hands nothing out."""
        self._idle.set()
        removals: list[tuple[str, Content]] = [(name, None) for name in [*self._written, *self._failed]]
        self._written.clear()
        with contextlib.suppress(RuntimeError):  # the loop is closing: the executor's thread is gone
            await asyncio.get_running_loop().run_in_executor(
                self._executor, _apply, self.directory, self.mode, removals
            )
        self._executor.shutdown(wait=True)

    async def _plan(self) -> list[tuple[str, Content]]:
        """What each changed tenant's file should hold now, ``SLICE`` tenants per turn of the loop."""
        names, self._dirty = sorted(self._dirty), set()
        batch: list[tuple[str, Content]] = []
        for start in range(0, len(names), SLICE):
            if start:
                await self._clock.sleep(0)
            now = self._clock.now()
            for name in names[start : start + SLICE]:
                found = self._lookup(name)
                shared = found.shareable() if found is not None else None
                if shared is None or found is None:
                    if name in self._written or name in self._failed:
                        batch.append((name, None))
                    self._written.pop(name, None)
                elif self._written.get(name) is not shared.token:
                    found.note_handed()
                    batch.append((name, shared.as_json(now)))
                    self._written[name] = shared.token
                    heapq.heappush(self._expiry, (shared.usable_until, next(self._seq), name, shared.token))
        return batch

    def _done(self, batch: list[tuple[str, Content]], failed: dict[str, str]) -> None:
        for name, content in batch:
            if name in failed:
                self._failed.add(name)
                self._written.pop(name, None)
                _log.error("token_file_failed", tenant=name, error=failed[name], removing=content is None)
            else:
                self._failed.discard(name)

    def _due(self) -> None:
        """Files whose token is no longer usable: look again (a new token, or removal)."""
        now = self._clock.now()
        while self._expiry and self._expiry[0][0] <= now:
            _, _, name, token = heapq.heappop(self._expiry)
            if self._written.get(name) is token:  # still in the file, and no longer usable
                self._dirty.add(name)


def _apply(directory: Path, mode: int, batch: list[tuple[str, Content]]) -> dict[str, str]:
    """In the writer thread: write or remove each file; the failures by tenant."""
    failed: dict[str, str] = {}
    for name, content in batch:
        path = directory / f"{name}.json"
        try:
            if content is None:
                path.unlink(missing_ok=True)
            else:
                _write(path, json.dumps(content).encode(), mode)
        except OSError as exc:
            failed[name] = exc.strerror or type(exc).__name__
    if batch:
        with contextlib.suppress(OSError):
            _fsync_directory(directory)
    return failed


def _write(path: Path, data: bytes, mode: int) -> None:
    """Temporary name → write → fsync → rename over ``path``; the mode set before any byte lands."""
    temporary = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(temporary, flags, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask may have taken bits away from the mode asked for
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
