"""What every benchmark needs: processes, /proc readings, loopback HTTP, percentiles, results.

Benchmarks run the simulator (``tests.perf.simrunner``) and often the daemon in processes of
their own, so that CPU and memory are read per process from ``/proc/PID/stat`` and
``/proc/PID/status`` while the measuring process stays idle. Every wait here is bounded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


# -- /proc --------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (``/proc/PID/stat`` fields 14 and 15)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of ``pid`` now."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# -- processes ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Proc:
    """A child process whose output goes to a file; ``stop()`` ends it (SIGTERM, then SIGKILL)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode


def spawn(
    name: str, argv: Sequence[str], *, workdir: Path, env: Mapping[str, str] | None = None, stdout: Path | None = None
) -> Proc:
    log = stdout or workdir / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(
            list(argv),
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    return Proc(name, popen, log)


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.stop()


def wait_until(predicate: Callable[[], Any], *, timeout_s: float, interval_s: float = 0.2, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:.0f} s waiting for {what or predicate}")
        time.sleep(interval_s)


# -- the simulator ------------------------------------------------------------------------------


@dataclasses.dataclass
class Simulator:
    proc: Proc
    base_url: str
    config: Path
    env: dict[str, str]

    def counts(self, *, times: bool = False) -> dict[str, Any]:
        status, body, _ = get(self.base_url + "/__bench/counts" + ("?times=1" if times else ""), timeout_s=60)
        assert status == 200, body[:200]
        return json.loads(body)

    def requests(self, kind: str | None = None) -> list[dict[str, Any]]:
        query = f"?kind={kind}" if kind else ""
        status, body, _ = get(self.base_url + "/__sim/requests" + query, timeout_s=60)
        assert status == 200, body[:200]
        return list(json.loads(body))

    def control(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))


def start_simulator(workdir: Path, *, tenants: int, seed: int, **knobs: int) -> Simulator:
    """A simulator process serving a generated world; waits until it listens (bounded)."""
    config = workdir / "sim-config.yaml"
    argv = [PYTHON, "-m", "tests.perf.simrunner", "--tenants", str(tenants), "--seed", str(seed)]
    argv += ["--emit-config", str(config), "--listen", "127.0.0.1:0"]
    for knob, value in knobs.items():
        argv += [f"--{knob.replace('_', '-')}", str(value)]
    proc = spawn("simulator", argv, workdir=workdir)

    def listening() -> str | None:
        if not proc.alive():
            raise RuntimeError(f"the simulator exited: {proc.output()[-2000:]}")
        for line in proc.output().splitlines():
            if line.startswith("simulator listening on "):
                return line.split()[-1]
        return None

    base_url = wait_until(listening, timeout_s=120, what="the simulator")
    env = read_env(Path(str(config) + ".env"))
    return Simulator(proc, base_url, config, env)


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return dict(pairs)


def write_config(emitted: Path, target: Path, extra: Mapping[str, Any]) -> Path:
    """The emitted configuration plus top-level sections it does not have (server, defaults, ...)."""
    text = emitted.read_text()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    target.write_text(text + "\n" + yaml.dump(dict(extra), Dumper=dumper, sort_keys=False))
    return target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_daemon(workdir: Path, config: Path, env: Mapping[str, str], *, name: str = "grantwarden") -> Proc:
    """``python -m grantwarden run --config FILE``: the real command, secrets in its environment."""
    return spawn(
        name, [PYTHON, "-m", "grantwarden", "run", "--config", str(config)], workdir=workdir, env={**os.environ, **env}
    )


# -- HTTP ---------------------------------------------------------------------------------------


def get(url: str, *, timeout_s: float = 10.0) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET; status 0 when nothing answered."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = response.read()
            return response.status, body, time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - started
    except (urllib.error.URLError, OSError):
        return 0, b"", time.perf_counter() - started


def ready(url: str) -> bool:
    return get(url + "/readyz", timeout_s=5)[0] == 200


# -- results ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Target:
    metric: str
    value: float
    unit: str
    target: str
    met: bool | None  # None: reported, no target


@dataclasses.dataclass
class Result:
    name: str
    workload: str
    headline: str
    targets: list[Target] = dataclasses.field(default_factory=list)
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    commands: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def announce(name: str, workload: str) -> float:
    print(f"\n== {name}\nworkload: {workload}", flush=True)
    return time.monotonic()


def finish(result: Result, started: float) -> Result:
    result.seconds = round(time.monotonic() - started, 1)
    print("  figures: " + json.dumps(result.figures, default=str), flush=True)
    for note in result.notes:
        print(f"  note: {note}", flush=True)
    for target in result.targets:
        verdict = "" if target.met is None else (" [met]" if target.met else " [MISSED]")
        print(f"  {target.metric}: {target.value:g} {target.unit} (target {target.target}){verdict}", flush=True)
    print(f"{result.name}: {result.headline}", flush=True)
    return result


def command_line(argv: Sequence[str]) -> str:
    return " ".join(str(part) if " " not in str(part) else repr(str(part)) for part in argv)
