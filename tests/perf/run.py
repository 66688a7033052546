"""``make bench``: every benchmark in turn, then bench-results.json and bench-results.md.

Order: refresh (in-process, 15–40 s), engine (~60 s), peer (~30 s), scale (10k, 5k, 1k: ~9.5 min,
mostly the probe intervals of 300 s and 150 s that warm-up must cover), cold start (~3 min),
hand-off (~4 min), the in-path proxy (~2 min): about 21 minutes on 2 cores. A benchmark that could not
finish within ``BUDGET_S`` by its estimate is reported as skipped instead of overrunning the 22 minutes
``make bench`` may take (15 before the hand-off's and the proxy's benchmarks joined).
``BENCH_ONLY=engine,peer`` runs a subset.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.perf import coldstart, common, engine, handoff, peer, proxy, refresh, scale

BUDGET_S = 21.75 * 60
# name, expected seconds, runner
Runner = Callable[[Path], common.Result]
BENCHMARKS: list[tuple[str, float, Runner]] = [
    ("refresh", 40, lambda _: refresh.run()),
    ("engine", 65, engine.run),
    ("peer", 35, peer.run),
    ("scale", 585, lambda workdir: scale.run(workdir)[0]),
    ("coldstart", 180, coldstart.run),
    ("handoff", 245, handoff.run),
    ("proxy", 110, proxy.run),
]


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# grantwarden benchmarks",
        "",
        f"Run {meta['finished']} on {meta['machine']} ({meta['cpus']} CPUs), Python {meta['python']}, "
        f"{meta['total_s']:.0f} s in all. Produced by `make bench` (`python -m tests.perf.run`); "
        "raw numbers in bench-results.json.",
        "",
        "| benchmark | workload | metric | value | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        if result.get("skipped"):
            lines.append(f"| {result['name']} | — | skipped: {result['skipped']} | — | — | — |")
            continue
        first = True
        for target in result["targets"]:
            met = {True: "yes", False: "**no**", None: ""}[target["met"]]
            workload = result["workload"] if first else ""
            value = f"{target['value']:g} {target['unit']}".strip()
            lines.append(
                f"| {result['name'] if first else ''} | {workload} | {target['metric']} | {value} | "
                f"{target['target']} | {met} |"
            )
            first = False
    lines += ["", "## Headlines", ""]
    lines += [f"- **{r['name']}**: {r.get('headline') or r.get('skipped')}" for r in results]
    notes = [(r["name"], note) for r in results for note in r.get("notes", [])]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {name}: {note}" for name, note in notes]
    lines += ["", "## Command lines", ""]
    for result in results:
        for command in result.get("commands", []):
            lines.append(f"- {result['name']}: `{command}`")
    return "\n".join(lines) + "\n"


def main() -> int:
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        for name, expected_s, runner in BENCHMARKS:
            if only and name not in only:
                continue
            elapsed = time.monotonic() - started
            if elapsed + expected_s > BUDGET_S:
                results.append({"name": name, "skipped": f"time budget: {elapsed:.0f} s used of {BUDGET_S:.0f} s"})
                continue
            workdir = Path(tmp) / name
            workdir.mkdir()
            try:
                results.append(runner(workdir).as_json())
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others' results
                traceback.print_exc()
                results.append({"name": name, "skipped": f"failed: {type(exc).__name__}: {exc}"})
                failed = True
            print(f"[{time.monotonic() - started:.0f} s elapsed]", flush=True)
    meta = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "total_s": round(time.monotonic() - started, 1),
    }
    (common.ROOT / "bench-results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    (common.ROOT / "bench-results.md").write_text(markdown(results, meta))
    print(f"\nwrote bench-results.json and bench-results.md ({meta['total_s']:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
