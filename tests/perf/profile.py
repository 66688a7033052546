"""Where the daemon's CPU goes: py-spy over the engine workload, summarised by function.

``python -m tests.perf.profile [--seconds 20] [--tenants 500] [--interval 10] [--out DIR]`` starts
the simulator and ``python -m grantwarden run`` as benchmark 1 does, waits for ``/readyz``, records
the daemon with ``py-spy record --format raw`` (collapsed stacks; py-spy comes from the dev
extras) and prints the functions with the most samples, self and inclusive, and the share of
samples under each of grantwarden's modules. Not part of ``make bench``: sampling slows the
process it samples, so profiles and measured figures are never taken in the same run.
``--summarise FILE`` summarises an existing collapsed-stack file instead.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.perf import common

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    """``func (path/to/file.py:12)`` → ``file.py:func`` (packages shortened)."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", str(common.ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{match['func']}"


def summarise(collapsed: Path, top: int = 30) -> str:
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    modules: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [short(f) for f in stack.split(";")]
        self_time[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
        for module in {f.split(":", 1)[0] for f in frames if f.startswith("daemon/")}:
            modules[module] += count
    lines = [f"samples: {total}", "", f"top {top} self:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    lines += ["", f"top {top} inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "grantwarden modules (inclusive):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in modules.most_common()]
    return "\n".join(lines)


def record(pid: int, seconds: float, out: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(common.PYTHON).parent / "py-spy")
    argv = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "1000"]
    argv += ["--format", "raw", "--output", str(out), "--nonblocking"]
    subprocess.run(argv, check=True, timeout=seconds + 60, capture_output=True)


def profile_engine(workdir: Path, *, tenants: int, interval: float, seconds: float) -> Path:
    sim = common.start_simulator(workdir, tenants=tenants, seed=8)
    try:
        port = common.free_port()
        config = common.write_config(
            sim.config,
            workdir / "profile.yaml",
            {
                "server": {"listen": f"127.0.0.1:{port}"},
                "minting": {"rate_per_second": 80, "burst": 20},
                "defaults": {"probe_interval": f"{interval:g}s", "probe_timeout": "5s"},
            },
        )
        with common.running(common.start_daemon(workdir, config, sim.env)) as daemon:
            url = f"http://127.0.0.1:{port}"
            common.wait_until(lambda: common.ready(url), timeout_s=180, what="grantwarden /readyz")
            time.sleep(interval)  # the steady rate begins one interval after /readyz, as in benchmark 1
            out = workdir / "daemon.collapsed.txt"
            record(daemon.pid, seconds, out)
            return out
    finally:
        sim.proc.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.perf.profile", description=__doc__)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--tenants", type=int, default=500)
    p.add_argument("--interval", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=None, help="keep the collapsed stacks in this directory")
    p.add_argument("--summarise", type=Path, default=None, help="summarise this collapsed-stack file")
    args = p.parse_args()
    if args.summarise is not None:
        print(summarise(args.summarise))
        return
    with tempfile.TemporaryDirectory(prefix="gw-profile-") as tmp:
        collapsed = profile_engine(Path(tmp), tenants=args.tenants, interval=args.interval, seconds=args.seconds)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copy(collapsed, args.out / collapsed.name)
        print(summarise(collapsed))


if __name__ == "__main__":
    main()
