"""The hand-off in the daemon's composition: started with it, stopped in order, refused when unusable.

Covers (design.md §2.8.4): ``daemon_started`` names the hand-off; ``/readyz`` waits for the token
files; the files' directory must exist and the socket's path must not be another file (a start
that cannot use them fails, with no tenant left running and the operator listener closed, and so
does an in-path proxy that cannot listen after the hand-off did, leaving no socket or file); at a
stop the socket and every file go; the supervisor exposes each running worker's access object,
and a restart after a crash replaces it; without ``handoff`` or ``proxy`` no worker has one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from structlog.testing import capture_logs

from grantwarden.app import runtime
from grantwarden.base import redaction
from grantwarden.base.clock import ManualClock
from grantwarden.simulator import testing
from grantwarden.surface import server
from grantwarden.worker import tenant
from tests.e2e import support


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@contextlib.asynccontextmanager
async def started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: ManualClock, edit: dict[str, Any]
) -> AsyncIterator[tuple[runtime.Daemon, server.Running, asyncio.Task[int], list[dict[str, Any]]]]:
    async with testing.running(support.DEMO, clock=clock) as sim:
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme", "acme-apac"], edit=edit)
        ready: asyncio.Future[tuple[runtime.Daemon, server.Running]] = asyncio.get_running_loop().create_future()
        options = runtime.Options(
            clock=clock, environ=dict(os.environ), redactor=redaction.Redactor(),
            registry=prometheus_client.CollectorRegistry(), install_signals=False, watchdog_interval_s=3600.0,
            seed=1, on_started=lambda daemon, http: ready.set_result((daemon, http)),
        )  # fmt: skip
        stop = asyncio.Event()
        with capture_logs() as logs:
            task = asyncio.create_task(runtime.run(loaded, options, stop), name="daemon")
            done, _ = await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                yield None, None, task, logs  # type: ignore[misc]  # the start failed: the test looks at the task
                return
            daemon, http = ready.result()
            try:
                yield daemon, http, task, logs
            finally:
                stop.set()
                while not task.done():
                    await clock.advance(1.0)
                assert task.result() == 0


async def test_the_daemon_runs_the_handoff_and_removes_its_socket_and_files_at_stop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    tokens, sock = tmp_path / "tokens", tmp_path / "handoff.sock"
    tokens.mkdir()
    edit = {"handoff": {"listen": f"unix:{sock}", "files": {"directory": str(tokens)}}}
    async with started(monkeypatch, tmp_path, clock, edit) as (daemon, _, _, logs):
        (line,) = [e for e in logs if e["event"] == "daemon_started"]
        assert line["handoff"] == f"unix:{sock}"
        assert not daemon.ready(), "first cycles pending"
        await clock.advance(61)
        assert daemon.files is not None
        await asyncio.wait_for(daemon.files.drained(), 10.0)
        assert daemon.ready()
        assert listing(tokens) == ["acme.json"], "acme-apac acts in another org: no file"
        worker = daemon.sup.running("acme")
        assert isinstance(worker, tenant.Worker)
        assert worker.access is not None
        assert worker.access.org_id == daemon.cfg.tenant("acme").org_id  # type: ignore[union-attr]
    assert listing(tokens) == []
    assert not sock.exists()


async def test_without_a_handoff_or_a_proxy_no_worker_has_an_access_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Nothing asks for tokens: each tenant's worker stays as small as before either existed."""
    clock = ManualClock()
    async with started(monkeypatch, tmp_path, clock, {}) as (daemon, _, _, logs):
        worker = daemon.sup.running("acme")
        assert isinstance(worker, tenant.Worker)
        assert worker.access is None
        assert daemon.files is None
        (line,) = [e for e in logs if e["event"] == "daemon_started"]
        assert (line["handoff"], line["proxy"]) == (None, None)


@pytest.mark.parametrize("problem", ["socket-path-is-a-file", "files-directory-missing"])
async def test_a_handoff_that_cannot_start_stops_the_start_and_leaves_nothing_running(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, problem: str
) -> None:
    clock = ManualClock()
    sock, tokens = tmp_path / "handoff.sock", tmp_path / "tokens"
    if problem == "socket-path-is-a-file":
        sock.write_text("somebody's file")
        tokens.mkdir()
    edit = {"handoff": {"listen": f"unix:{sock}", "files": {"directory": str(tokens)}}}
    async with started(monkeypatch, tmp_path, clock, edit) as (daemon, _, task, _):
        assert daemon is None
        with pytest.raises(OSError, match="not a socket" if problem == "socket-path-is-a-file" else "does not exist"):
            await task
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("tenant:") and not t.done()] == []
    if problem == "socket-path-is-a-file":
        assert sock.read_text() == "somebody's file"


async def test_a_proxy_that_cannot_start_after_the_handoff_did_leaves_no_socket_file_or_tenant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Both listeners configured, the proxy's path taken by another file: the start fails naming
    ``proxy.listen``, and what the hand-off had started goes as at a stop (design.md §2.8.4)."""
    clock = ManualClock()
    sock, tokens, taken = tmp_path / "handoff.sock", tmp_path / "tokens", tmp_path / "proxy.sock"
    tokens.mkdir()
    taken.write_text("somebody's file")
    edit = {
        "handoff": {"listen": f"unix:{sock}", "files": {"directory": str(tokens)}},
        "proxy": {"listen": f"unix:{taken}"},
    }
    async with started(monkeypatch, tmp_path, clock, edit) as (daemon, _, task, _):
        assert daemon is None
        with pytest.raises(OSError, match=r"proxy.listen: .* is not a socket"):
            await task
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("tenant:") and not t.done()] == []
    assert not sock.exists(), "the hand-off's socket went with the failed start"
    assert listing(tokens) == []
    assert taken.read_text() == "somebody's file"


async def test_a_restart_after_a_crash_replaces_the_access_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    edit = {"handoff": {"listen": f"unix:{tmp_path / 'handoff.sock'}"}}
    async with started(monkeypatch, tmp_path, clock, edit) as (daemon, _, _, _):
        await clock.advance(61)
        first = daemon.sup.running("acme")
        assert isinstance(first, tenant.Worker)
        assert first.access is not None

        def crash() -> int:
            raise RuntimeError("boom")

        monkeypatch.setattr(first.access, "before_pass", crash)  # the next cycle crashes the worker
        first.status.reconcile_requested.set()
        with capture_logs() as logs:
            await clock.advance(10)
        assert [e["event"] for e in logs if e["event"].startswith("worker_")] == ["worker_crashed", "worker_restarted"]
        second = daemon.sup.running("acme")
        assert isinstance(second, tenant.Worker)
        assert second is not first
        assert second.access is not None
        assert second.access is not first.access
