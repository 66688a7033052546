"""``grantwarden demo``: the simulator's demo world and the daemon on it, in one process.

A first look at grantwarden needs no Genesys Cloud org: this loads the built-in demo world
(``simulator/worlds/demo.yaml``, package data) into the embedded simulator on a free loopback
port, writes the matching configuration (the same ``emitting.render`` as
``simulate --emit-config``) with a 5 s probe interval so the whole story fits in about 30 s, signs the user-grant
tenants in (the simulator consents at once; the partner's consultant with ``target=`` through the org
trust), and runs the real daemon (``runtime.run``) with its
status page and ``/metrics``. The terminal shows sentences (``story``), not the JSON log, which
goes to a file in the demo's temporary directory.

Secrets live in the demo's own environment mapping, handed to the daemon (``runtime.Options``)
and to the consenting person (the configuration names them ``{env: ...}``); the process's
environment is left alone. They are registered with the redactor; nothing printed contains one.
Only ``cli`` calls ``main``; it returns 0 after the story and the summary, or 2 when the demo
cannot start.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import yaml

from grantwarden.app import runtime
from grantwarden.base import clock as clocks
from grantwarden.base import logs, redaction
from grantwarden.config import loading as configfile
from grantwarden.demo import consent as demo_consent
from grantwarden.demo import integration as demo_integration
from grantwarden.demo import story as demo_story
from grantwarden.simulator import emitting, scenarios, serving
from grantwarden.simulator.reading import ScenarioError
from grantwarden.surface import listening, server

EXIT_OK, EXIT_CANNOT_START = 0, 2
POLL_S = 0.5  # how often the demo looks at the tenants; state changes print within this
# Short cycles so that detection, re-grant, propagation (5 s in the scenario) and verification
# all happen within about 30 s; production defaults are 60 s and 300 s.
DEMO_DEFAULTS: dict[str, Any] = {
    "probe_interval": "5s",
    "probe_timeout": "3s",
    "probe_concurrency": 8,  # all six probes at once, so one 429 cannot hold back the rest of a cycle
    "regrant": {"settle_timeout": "20s"},
}


def main(*, duration_s: float | None, listen: str, out: TextIO, err: TextIO | None = None) -> int:
    """``grantwarden demo [--duration SECONDS] [--listen HOST:PORT]``; None: until Ctrl-C."""
    err = err or sys.stderr
    if duration_s is not None and duration_s <= 0:
        err.write("grantwarden demo: --duration must be more than 0 seconds\n")
        return EXIT_CANNOT_START
    try:
        listening.parse_listen(listen)
    except ValueError as exc:
        err.write(f"grantwarden demo: --listen: {exc}\n")
        return EXIT_CANNOT_START
    with tempfile.TemporaryDirectory(prefix="grantwarden-demo-") as workdir:
        log_path = Path(workdir) / "grantwarden.log"
        with log_path.open("w", encoding="utf-8") as log_stream:
            try:
                return asyncio.run(_demo(Path(workdir), log_stream, duration_s, listen, out, err))
            finally:
                logs.configure(level="warning", fmt="console", redactor=redaction.Redactor(), stream=err)


async def _demo(workdir: Path, log: TextIO, duration_s: float | None, listen: str, out: TextIO, err: TextIO) -> int:
    clock = clocks.LoopClock()
    started_at = clock.now()
    try:
        world = scenarios.load(scenarios.DEMO_SCENARIO, clock=clock)
    except ScenarioError as exc:
        err.write(f"grantwarden demo: {exc}\n")
        return EXIT_CANNOT_START
    sim = await serving.start(world)
    try:
        config, env = emitting.render(world, sim.base_url, state_dir=str(workdir / "state"))
        try:
            loaded = _load(config, env, listen, workdir / "grantwarden.yaml")
        except configfile.ConfigError as exc:
            err.writelines(f"grantwarden demo: {line}\n" for line in exc.lines())
            return EXIT_CANNOT_START
        redactor = redaction.Redactor()
        for value in env.values():
            redactor.add(value, configured=True)
        logs.configure(level="info", fmt="json", redactor=redactor, stream=log, clock=clock)
        with _interrupts() as interrupted:
            show = Show(loaded, environ=env, clock=clock, redactor=redactor, out=out, started_at=started_at)
            show.notes = {t.name: t.note for t in world.tenants}  # what each tenant demonstrates
            show.places = {"simulator": sim.base_url, "JSON log": f"{log.name} (removed when the demo ends)"}
            if (handoff := loaded.settings.handoff) is not None:
                show.places["token hand-off"] = handoff.listen
            show.companions.append(demo_integration.companion(workdir / "handoff.sock", world, clock, show.say))
            return await show.run(duration_s, interrupted, err)
    finally:
        await sim.stop()


def _load(config: dict[str, Any], env: Mapping[str, str], listen: str, path: Path) -> configfile.Loaded:
    """Write the demo's configuration where a person can read it, and load it like ``run`` does."""
    handoff = {"listen": f"unix:{path.parent / 'handoff.sock'}"}  # the demo's integration takes acme's token here
    config = {"server": {"listen": listen}, "handoff": handoff, "defaults": DEMO_DEFAULTS, **config}
    path.write_text(yaml.safe_dump(config, sort_keys=False, width=120), encoding="utf-8")
    loaded = configfile.load(path, environ={})  # the person's GRANTWARDEN_* variables stay out of it
    configfile.resolve_secrets(loaded, environ=env)
    return loaded


@contextlib.contextmanager
def _interrupts() -> Iterator[asyncio.Event]:
    """Ctrl-C or SIGTERM ends the story early; the summary still prints."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        yield interrupted
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


class Show:
    """Runs the daemon, prints what changes, re-consents once when asked to, ends with a table."""

    def __init__(
        self,
        loaded: configfile.Loaded,
        *,
        environ: Mapping[str, str],
        clock: clocks.Clock,
        redactor: redaction.Redactor,
        out: TextIO,
        started_at: float,
    ) -> None:
        """``environ``: the scenario's secrets, where the configuration's ``{env: NAME}`` point."""
        self.loaded = loaded
        self.environ = environ
        self.clock = clock
        self.redactor = redactor
        self.out = out
        self.started_at = started_at
        self.notes: dict[str, str] = {}
        self.places: dict[str, str] = {}
        self.last: dict[str, demo_story.Seen] = {}
        self.order = [t.name for t in loaded.settings.tenants]
        # Beside the daemon once it runs (the hand-off's integration), cancelled when the story ends.
        self.companions: list[Callable[[runtime.Daemon], asyncio.Task[None]]] = []

    def say(self, line: demo_story.Line) -> None:
        self.out.write(self.redactor.redact_text(demo_story.render(line, started_at=self.started_at)) + "\n")
        self.out.flush()

    def write(self, lines: list[str]) -> None:
        self.out.writelines(self.redactor.redact_text(line) + "\n" for line in lines)
        self.out.flush()

    async def run(self, duration_s: float | None, interrupted: asyncio.Event, err: TextIO) -> int:
        async with aiohttp.ClientSession() as session:
            consent = demo_consent.Consent(
                self.loaded, environ=self.environ, session=session, clock=self.clock, redactor=self.redactor
            )
            early = [line for t in consent.tenants for line in await consent.authorize(t, first=True)]
            stop = asyncio.Event()
            started = await self._start(stop, interrupted)
            if isinstance(started, BaseException):
                listen = self.loaded.settings.server.listen
                why = started.strerror if isinstance(started, OSError) and started.strerror else str(started)
                err.write(
                    f"grantwarden demo: cannot serve on {listen}: {why}; choose another with --listen HOST:PORT\n"
                )
                return EXIT_CANNOT_START
            daemon_run, daemon, url = started
            places = {"status page": f"{url}/", "status JSON": f"{url}/status", "metrics": f"{url}/metrics"}
            places |= {"configuration": self.loaded.source, **self.places}
            self.write(
                demo_story.banner(duration_s=duration_s, places=places, notes=self.notes, defaults=DEMO_DEFAULTS)
            )
            for line in early:
                self.say(line)
            beside = [companion(daemon) for companion in self.companions]
            try:
                await self._watch(daemon, consent, duration_s, interrupted)
            finally:
                for task in beside:
                    task.cancel()
                await asyncio.gather(*beside, return_exceptions=True)
                stop.set()
                self.write(["", *demo_story.summary(self.last, self.order), "", "stopping the daemon …"])
                await daemon_run
        self.write(["stopped."])
        return EXIT_OK

    async def _start(
        self, stop: asyncio.Event, ending: asyncio.Event
    ) -> tuple[asyncio.Task[int], runtime.Daemon, str] | BaseException:
        """The daemon running (its task, itself, its URL), or why it could not start."""
        started: list[tuple[runtime.Daemon, str]] = []
        listening = asyncio.Event()

        def on_started(daemon: runtime.Daemon, running: server.Running) -> None:
            started.append((daemon, running.url))
            listening.set()

        options = runtime.Options(
            clock=self.clock, environ=self.environ, redactor=self.redactor, install_signals=False,
            on_started=on_started,
        )  # fmt: skip
        daemon_run = asyncio.create_task(runtime.run(self.loaded, options, stop), name="grantwarden-demo-daemon")
        daemon_run.add_done_callback(lambda _: ending.set())  # a daemon that ends on its own ends the story
        await self.clock.sleep(float("inf"), wakeup=(listening, ending))
        if not started:
            await asyncio.wait([daemon_run])
            return daemon_run.exception() or RuntimeError("the daemon stopped before it listened")
        return daemon_run, *started[0]

    async def _watch(
        self,
        daemon: runtime.Daemon,
        consent: demo_consent.Consent,
        duration_s: float | None,
        interrupted: asyncio.Event,
    ) -> None:
        ends_at = self.started_at + duration_s if duration_s is not None else float("inf")
        while True:
            self._look(daemon)
            for name in consent.due(self.last):
                for line in await consent.authorize(name, first=False, seen=self.last[name]):
                    self.say(line)
                daemon.reconcile(name)  # as POST /tenants/{name}/reconcile: probe again now
            for line in consent.afterwards(self.last):
                self.say(line)
            left = ends_at - self.clock.now()
            if left <= 0 or await self.clock.sleep(min(POLL_S, left), wakeup=(interrupted,)):
                self._look(daemon)
                return

    def _look(self, daemon: runtime.Daemon) -> None:
        lines: list[demo_story.Line] = []
        for name, status in daemon.statuses().items():
            now = demo_story.seen(status)
            lines += demo_story.changes(self.last.get(name), now)
            self.last[name] = now
        for line in sorted(lines, key=lambda line: line.at):  # stable: a fix stays under its finding
            self.say(line)
