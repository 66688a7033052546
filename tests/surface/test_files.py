"""The hand-off's file sink: one atomic, correctly moded ``<tenant>.json`` per tenant whose token may go out.

Covers: start-up refuses a missing directory and clears an earlier run's files (ours only); a
file written with exactly the configured mode whatever the umask, holding the answer's JSON, and
recorded as handed out; rewritten when the token changes, not when it does not; removed when the
token may no longer go out, when the tenant is gone, when its token ages out with no successor,
and at stop; a reader reading in a tight loop while tokens rotate never sees a partial file;
``ready()`` false until every change is written and while a write fails (``token_file_failed``);
no temporary file left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.surface import files
from grantwarden.worker import handout, tokenbox

NOW = 1_800_000_000.0


@dataclasses.dataclass(eq=False)
class Tenant:
    name: str
    clock: clock_mod.Clock
    token: tokenbox.Token | None = None
    handed: int = 0

    def rotate(self, number: int, lifetime: float = 3600.0) -> None:
        now = self.clock.now()
        value = f"token-{self.name}-{number:06d}-" + "z" * 40
        self.token = tokenbox.Token(value, expires_at=now + lifetime, refresh_at=now + lifetime / 2, received_at=now)

    def shareable(self) -> handout.Handout | None:
        if self.token is None or self.clock.now() >= self.token.usable_until:
            return None
        return handout.Handout(self.name, f"org-{self.name}", None, "https://api.example.test", self.token)

    def note_handed(self) -> None:
        self.handed += 1


@dataclasses.dataclass
class Sink:
    sink: files.FileSink
    tenants: dict[str, Tenant]
    clock: clock_mod.ManualClock
    directory: Path

    async def settled(self) -> None:
        await self.clock.settle()
        await asyncio.wait_for(self.sink.drained(), timeout=10.0)  # the writer thread's work included

    def changed(self, *names: str) -> None:
        for name in names:
            self.sink.changed(self.tenants[name])  # type: ignore[arg-type]

    def read(self, name: str) -> dict[str, Any]:
        return dict(json.loads((self.directory / f"{name}.json").read_text()))

    def names(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir())

    def mode(self, name: str) -> int:
        return stat.S_IMODE((self.directory / name).stat().st_mode)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, mode: int = 0o640) -> AsyncIterator[Sink]:
    clock = clock_mod.ManualClock(NOW)
    tenants: dict[str, Tenant] = {}
    sink = files.FileSink(directory=tmp_path, mode=mode, clock=clock, lookup=tenants.get)  # type: ignore[arg-type]
    sink.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        yield Sink(sink, tenants, clock, tmp_path)
    finally:
        stop.set()
        await task
        await sink.stop()


def test_start_up_refuses_a_missing_directory(tmp_path: Path) -> None:
    sink = files.FileSink(directory=tmp_path / "nope", mode=0o640, clock=clock_mod.ManualClock(), lookup={}.get)
    with pytest.raises(OSError, match="does not exist"):
        sink.prepare()


def test_start_up_clears_an_earlier_runs_files_and_only_those(tmp_path: Path) -> None:
    for name in ("acme.json", "acme-eu.json", ".acme.json.tmp", "README", "Notes.JSON", "x.json.bak"):
        (tmp_path / name).write_text("{}")
    files.FileSink(directory=tmp_path, mode=0o640, clock=clock_mod.ManualClock(), lookup={}.get).prepare()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Notes.JSON", "README", "x.json.bak"]


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o400])
async def test_a_file_holds_the_answer_with_exactly_the_configured_mode(tmp_path: Path, mode: int) -> None:
    old = os.umask(0o077)  # a umask that would take the group's read away
    try:
        async with running(tmp_path, mode) as s:
            s.tenants["acme"] = acme = Tenant("acme", s.clock)
            acme.rotate(1)
            s.changed("acme")
            await s.settled()
            assert s.mode("acme.json") == mode
            assert s.read("acme") == handout.Handout(
                "acme",
                "org-acme",
                None,
                "https://api.example.test",
                acme.token,  # type: ignore[arg-type]
            ).as_json(NOW)
            assert acme.handed == 1
            assert s.names() == ["acme.json"], "no temporary file left"
    finally:
        os.umask(old)


async def test_a_file_is_rewritten_when_the_token_changes_and_only_then(tmp_path: Path) -> None:
    async with running(tmp_path) as s:
        s.tenants["acme"] = acme = Tenant("acme", s.clock)
        acme.rotate(1)
        s.changed("acme")
        await s.settled()
        s.changed("acme")  # an identity check passed again: same token
        await s.settled()
        assert acme.handed == 1
        acme.rotate(2)
        s.changed("acme")
        await s.settled()
        assert s.read("acme")["access_token"].startswith("token-acme-000002")
        assert acme.handed == 2


async def test_a_file_goes_when_its_token_may_no_longer_go_out(tmp_path: Path) -> None:
    async with running(tmp_path) as s:
        for name in ("acme", "acme-eu", "acme-ca"):
            s.tenants[name] = Tenant(name, s.clock)
            s.tenants[name].rotate(1, lifetime=600)
        s.changed("acme", "acme-eu", "acme-ca")
        await s.settled()
        s.tenants["acme"].token = None  # wrong org, no identity yet, no usable token: shareable() is None
        s.changed("acme", "acme-eu")
        del s.tenants["acme-eu"]  # the tenant was removed or its worker stopped: no access object any more
        await s.settled()
        assert s.names() == ["acme-ca.json"]
        await s.clock.advance(600)  # acme-ca's token ages out and no new one came
        await s.settled()
        assert s.names() == []


async def test_every_file_goes_at_stop(tmp_path: Path) -> None:
    async with running(tmp_path) as s:
        for name in ("acme", "acme-eu"):
            s.tenants[name] = Tenant(name, s.clock)
            s.tenants[name].rotate(1)
            s.changed(name)
        await s.settled()
        assert len(s.names()) == 2
    assert s.names() == []


async def test_ready_waits_for_every_change_to_be_written(tmp_path: Path) -> None:
    async with running(tmp_path) as s:
        assert s.sink.ready()
        s.tenants["acme"] = Tenant("acme", s.clock)
        s.tenants["acme"].rotate(1)
        s.changed("acme")
        assert not s.sink.ready()
        await s.settled()
        assert s.names() == ["acme.json"]


async def test_a_failing_write_keeps_the_sink_unready_and_is_logged(tmp_path: Path) -> None:
    in_the_way = tmp_path / "acme.json"
    in_the_way.mkdir()  # something in the way: the rename fails
    async with running(tmp_path) as s:
        s.tenants["acme"] = Tenant("acme", s.clock)
        s.tenants["acme"].rotate(1)
        with capture_logs() as logs:
            s.changed("acme")
            await s.settled()
        assert [(e["event"], e["tenant"]) for e in logs] == [("token_file_failed", "acme")]
        assert "z" * 40 not in str(logs)
        assert not s.sink.ready()
        in_the_way.rmdir()
        s.tenants["acme"].rotate(2)
        s.changed("acme")
        await s.settled()
        assert s.read("acme")["tenant"] == "acme"


async def test_a_reader_never_sees_a_partial_file_while_tokens_rotate(tmp_path: Path) -> None:
    seen: set[str] = set()
    problems: list[str] = []
    done = threading.Event()

    def reader() -> None:
        path = tmp_path / "acme.json"
        while not done.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                continue
            try:
                seen.add(json.loads(text)["access_token"])
            except (ValueError, KeyError) as exc:
                problems.append(f"{type(exc).__name__}: {text[:80]!r}")

    async with running(tmp_path) as s:
        s.tenants["acme"] = acme = Tenant("acme", s.clock)
        acme.rotate(0)
        s.changed("acme")
        await s.settled()
        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for number in range(1, 301):
                acme.rotate(number)
                s.changed("acme")
                await s.settled()
        finally:
            done.set()
            thread.join()
    assert problems == []
    assert len(seen) > 10, "the reader did read while the tokens rotated"
    assert all(token.startswith("token-acme-") for token in seen)
