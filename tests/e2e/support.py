"""End-to-end helpers: the simulator's demo world and a grantwarden configuration pointed at it.

``demo_config`` renders the configuration the simulator's ``--emit-config`` would write (same
code), puts its secrets into the process environment through ``monkeypatch`` (``grantwarden run``
hands a snapshot of it to the daemon, which reads ``{env: NAME}`` references from that at mint
time), and loads it the way ``grantwarden run`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from grantwarden.config import loading as configfile
from grantwarden.simulator import emitting, scenarios, testing

ROOT = Path(__file__).parent.parent.parent
DEMO = scenarios.DEMO_SCENARIO


def demo_config(
    sim: testing.Simulator,
    monkeypatch: pytest.MonkeyPatch,
    state_dir: Path,
    *,
    source: str = "demo-test.yaml",
    edit: dict[str, Any] | None = None,
    only: list[str] | None = None,
) -> configfile.Loaded:
    raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(state_dir))
    if only is not None:
        # Without their parents: every emitted tenant shares the one blueprint anyway.
        raw["tenants"] = [{k: v for k, v in t.items() if k != "parent"} for t in raw["tenants"] if t["name"] in only]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    raw.setdefault("server", {})["listen"] = "127.0.0.1:0"
    if edit:
        raw = {**raw, **edit}
    loaded = configfile.load_mapping(raw, source=source, environ={})
    configfile.resolve_secrets(loaded, environ=os.environ)
    return loaded
