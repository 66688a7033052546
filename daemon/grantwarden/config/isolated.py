"""Reading a large configuration file in a child interpreter, so its parse never stays in our heap.

Parsing 10,000 tenants builds about a hundred megabytes of short-lived YAML nodes and dicts
next to the few tens of megabytes of settings that stay. CPython's allocator returns memory to
the system only when a whole arena is empty, and the survivors are spread over nearly every
arena: the parse's garbage stayed resident for the daemon's whole life (7.7 KiB per tenant, a
quarter of its memory at 10,000 tenants). Here a fresh interpreter (``python -m
grantwarden.config.isolated``) reads and validates the file and sends the result back pickled; this
process only unpickles the settings (6 MB at 10,000 tenants). A fresh interpreter, not a fork:
the daemon reloads from a worker thread, and forking a threaded process is unsafe.

Small files (under ``ISOLATE_ABOVE_BYTES``) load in-process: the child's start-up (about half a
second) would cost more than it saves. If the child cannot run or dies, the file is read
in-process as before; the result is the same either way (tests compare them). Only
``GRANTWARDEN_*`` variables are passed to the child (the overrides); secrets are resolved by the
caller, so none ever crosses the pipe.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grantwarden.config import loading as configfile

ISOLATE_ABOVE_BYTES = 512 * 1024  # about 1,000 tenants
CHILD_TIMEOUT_S = 300.0
_PASSED_THROUGH = ("PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "HOME", "LANG", "LC_ALL", "TMPDIR")


def load(path: str | Path, *, environ: Mapping[str, str] | None = None) -> configfile.Loaded:
    """``configfile.load``, in a child interpreter when the file is large; raises ``ConfigError``."""
    variables = os.environ if environ is None else environ
    try:
        large = os.stat(path).st_size >= ISOLATE_ABOVE_BYTES
    except OSError:
        large = False  # configfile.load names the problem
    if not large:
        return configfile.load(path, environ=environ)
    overrides = {name: value for name, value in variables.items() if name.lower().startswith("grantwarden_")}
    answer = _ask_child(str(path), overrides)
    if answer is None:
        return configfile.load(path, environ=environ)
    kind, value = answer
    if kind == "error":
        source, problems = value
        raise configfile.ConfigError(source, problems)
    assert isinstance(value, configfile.Loaded)
    return value


def _ask_child(path: str, overrides: dict[str, str]) -> tuple[str, Any] | None:
    """The child's pickled answer, or None when it could not give one (then load in-process)."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    try:
        done = subprocess.run(  # our own interpreter and module, no shell
            [sys.executable, "-m", "grantwarden.config.isolated"],
            input=pickle.dumps((path, overrides)),
            capture_output=True,
            timeout=CHILD_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        answer = pickle.loads(done.stdout)  # written by the child we just started
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError):
        return None
    if not (isinstance(answer, tuple) and len(answer) == 2 and answer[0] in ("loaded", "error")):
        return None
    return answer


def _child() -> int:
    path, overrides = pickle.loads(sys.stdin.buffer.read())  # from the parent that started us
    try:
        answer: tuple[str, Any] = ("loaded", configfile.load(path, environ=overrides))
    except configfile.ConfigError as exc:
        answer = ("error", (exc.source, exc.problems))
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
