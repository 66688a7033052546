"""A real Prometheus on loopback, for the integration tests that must prove a scrape works.

Dashboards and alert rules (deploy/) match our series by name and label, and only the real
server says whether it can scrape, parse and query them. ``running(target)`` starts Debian's
``prometheus`` binary on a free 127.0.0.1 port with a throwaway storage directory and a generated
config that scrapes ``target`` (job ``grantwarden``) every second: no other target, no alerting,
no remote write, so nothing leaves loopback. It waits for ``/-/ready``, offers ``query(expr)``
and ``wait_for(expr, predicate)`` over the HTTP API, and always stops the process (terminate,
then kill). A missing binary raises ``PrometheusError`` with the install hint: a test that needs
Prometheus fails, it never skips.

This is an integration harness, so it polls in real time, through ``LoopClock`` (the one clock;
``asyncio.sleep`` is banned everywhere else).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import pathlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from grantwarden.base import clock as clock_mod

Result = list[dict[str, Any]]
READY_TIMEOUT_S = 20.0
POLL_S = 0.2
STOP_TIMEOUT_S = 5.0
LAUNCH_ATTEMPTS = 3  # a free port can be taken between choosing it and Prometheus binding it


class PrometheusError(RuntimeError):
    """Prometheus is missing, did not start, refused a query, or never showed what was awaited."""


def config(target: str, *, interval_s: float = 1.0, job: str = "grantwarden") -> str:
    """A prometheus.yml that scrapes only ``target``, written as JSON (which is YAML)."""
    interval = f"{interval_s:g}s"
    scrape = {
        "job_name": job,
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [target]}],
    }
    return json.dumps({"global": {"scrape_interval": interval}, "scrape_configs": [scrape]}, indent=2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(result: Result) -> list[float]:
    """The values of an instant-vector result, for predicates: ``[1.0]`` for ``up == 1``."""
    return [float(series["value"][1]) for series in result]


@dataclasses.dataclass(eq=False)
class Prometheus:
    url: str
    process: asyncio.subprocess.Process
    session: aiohttp.ClientSession
    log_path: pathlib.Path
    clock: clock_mod.Clock

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def query(self, expr: str) -> Result:
        """An instant query through ``/api/v1/query``: the ``result`` list of a vector."""
        async with self.session.get(f"{self.url}/api/v1/query", params={"query": expr}) as response:
            body = await response.json(content_type=None)
        if body.get("status") != "success":
            raise PrometheusError(f"query {expr!r} failed: {body.get('errorType')}: {body.get('error')}")
        result: Result = body["data"]["result"]
        return result

    async def wait_for(self, expr: str, predicate: Callable[[Result], bool], timeout_s: float = 15.0) -> Result:
        """Query until ``predicate(result)`` holds; raise with the last result and the log tail."""
        deadline = self.clock.now() + timeout_s
        while True:
            result = await self.query(expr)
            if predicate(result):
                return result
            if self.clock.now() >= deadline:
                raise PrometheusError(
                    f"{expr!r} did not match within {timeout_s:g} s; last result: {result}\n{self.log_tail()}"
                )
            await self.clock.sleep(POLL_S)

    async def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = self.clock.now() + timeout_s
        while self.clock.now() < deadline:
            if self.process.returncode is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with self.session.get(f"{self.url}/-/ready") as response:
                    if response.status == 200:
                        return
            await self.clock.sleep(POLL_S)
        raise PrometheusError(f"prometheus was not ready within {timeout_s:g} s:\n{self.log_tail()}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def _launch(binary: str, workdir: pathlib.Path, session: aiohttp.ClientSession) -> AsyncIterator[Prometheus]:
    port = free_port()
    log_path = workdir / f"prometheus-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / f'data-{port}'}",
            f"--web.listen-address=127.0.0.1:{port}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield Prometheus(f"http://127.0.0.1:{port}", process, session, log_path, clock_mod.LoopClock())
    finally:
        await _stop(process)


@contextlib.asynccontextmanager
async def running(target: str, *, interval_s: float = 1.0, binary: str | None = None) -> AsyncIterator[Prometheus]:
    """A ready Prometheus scraping ``target`` (``host:port``) every ``interval_s``; stopped on exit."""
    path = binary or shutil.which("prometheus")
    if path is None:
        raise PrometheusError("the prometheus binary is missing: apt-get install -y prometheus (Debian), or make test")
    with tempfile.TemporaryDirectory(prefix="grantwarden-prometheus-") as tmp:
        workdir = pathlib.Path(tmp)
        (workdir / "prometheus.yml").write_text(config(target, interval_s=interval_s))
        async with aiohttp.ClientSession(trust_env=False) as session:  # no proxy: loopback only
            for attempt in range(1, LAUNCH_ATTEMPTS + 1):
                async with _launch(path, workdir, session) as prometheus:
                    try:
                        await prometheus.wait_ready()
                    except PrometheusError:
                        if attempt == LAUNCH_ATTEMPTS or prometheus.process.returncode is None:
                            raise
                        continue  # exited early: most likely the port was taken meanwhile
                    yield prometheus
                    return
