"""Starting, watching and stopping the soak's two processes: the simulator and the daemon.

Both are real subprocesses (``python -m ...``), so the daemon is measured as it runs in
production: its own interpreter, its own memory, its signals. ``Sample`` reads what the kernel
knows about the daemon (resident memory, threads, open file descriptors from ``/proc``) plus the
task count its wrapper writes (``tests.soak.daemon``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from grantwarden.base.clock import LoopClock

CLOCK = LoopClock()


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float  # seconds since the daemon started
    rss_kib: int
    threads: int
    fds: int
    tasks: int | None


def sample(pid: int, tasks_file: Path, at: float) -> Sample:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    try:
        tasks: int | None = int(tasks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tasks = None
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return Sample(at, int(fields["VmRSS"][0]), int(fields["Threads"][0]), fds, tasks)


async def start_simulator(tenants: int, problems: float, config: Path) -> tuple[asyncio.subprocess.Process, str]:
    """The simulator process and its base URL, once it serves (it wrote ``config`` by then).

    Its stderr goes to ``simulator.err`` beside the configuration: a request the daemon gave up
    on (a timeout) can leave a traceback there when the simulator finally reads it.
    """
    with config.with_name("simulator.err").open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "tests.soak.simulator", "--tenants", str(tenants), "--emit-config", str(config)),
            *("--problem-fraction", str(problems)),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    assert process.stdout is not None
    while line := (await asyncio.wait_for(process.stdout.readline(), timeout=300)).decode():
        if line.startswith("simulator listening on "):
            return process, line.split()[-1]
    raise RuntimeError("the simulator exited before serving")


def secrets(config: Path) -> dict[str, str]:
    """The ``NAME=value`` lines the simulator wrote next to the configuration."""
    lines = Path(f"{config}.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


async def start_daemon(config: Path, tasks_file: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, **secrets(config)}
    with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "tests.soak.daemon", "--tasks", str(tasks_file), "run", "--config", str(config)),
            stdout=out,
            stderr=err,
            env=env,
        )


def log_events(log: Path) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


async def listen_url(log: Path, process: asyncio.subprocess.Process, *, timeout_s: float = 120.0) -> str:
    """The daemon's HTTP address, from its ``daemon_started`` log line."""
    give_up = CLOCK.now() + timeout_s
    while CLOCK.now() < give_up:
        if process.returncode is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}; see {log.with_suffix('.err')}")
        started = [e for e in log_events(log) if e.get("event") == "daemon_started"]
        if started:
            return str(started[0]["listen"])
        await CLOCK.sleep(0.5)
    raise RuntimeError("the daemon did not log daemon_started")


async def stop(process: asyncio.subprocess.Process, *, timeout_s: float = 30.0) -> int | None:
    """SIGTERM, then wait; SIGKILL if it will not go. Returns the exit code (None: killed)."""
    if process.returncode is None:
        process.terminate()
        try:
            return await asyncio.wait_for(process.wait(), timeout=timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            return None
    return process.returncode
