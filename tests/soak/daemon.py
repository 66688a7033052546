"""The soak's daemon: ``grantwarden run`` exactly, plus a count of its asyncio tasks.

``python -m tests.soak.daemon --tasks FILE run --config CONFIG`` hands its arguments after
``--tasks FILE`` to ``grantwarden.cli.main`` (the entry point of ``grantwarden``), and runs one more
task beside the daemon that writes ``len(asyncio.all_tasks())`` to FILE every second: the daemon
exposes no task count (no metric, no endpoint), and a leak of tasks is what a long run must rule
out. The sampler wraps ``runtime.run`` and stops with it, so exit codes, signals and logs are
the production ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

from grantwarden import cli
from grantwarden.app import runtime
from grantwarden.base.clock import LoopClock

SAMPLE_EVERY_S = 1.0


async def _sample(path: Path) -> None:
    clock = LoopClock()
    scratch = path.with_suffix(".tmp")
    while True:
        scratch.write_text(f"{len(asyncio.all_tasks())}\n", encoding="utf-8")
        scratch.replace(path)  # atomic: the reader never sees half a number
        await clock.sleep(SAMPLE_EVERY_S)


def _counting(run: Any, path: Path) -> Any:
    async def counted(*args: Any, **kwargs: Any) -> int:
        sampler = asyncio.create_task(_sample(path), name="soak-task-sampler")
        try:
            code: int = await run(*args, **kwargs)
            return code
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler

    return counted


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--tasks":
        sys.stderr.write("usage: python -m tests.soak.daemon --tasks FILE run --config CONFIG\n")
        return 2
    runtime.run = _counting(runtime.run, Path(argv[1]))  # type: ignore[assignment]
    return cli.main(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
