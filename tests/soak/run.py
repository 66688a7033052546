"""The long run (``make soak``): 2,000 tenants under rolling faults for ten minutes, then signals.

``python -m tests.soak.run [--tenants 2000] [--minutes 10] [--interval 80]`` starts the simulator
(``tests.soak.simulator``) and the daemon (``grantwarden run`` with a task counter,
``tests.soak.daemon``) as processes, then for the whole run samples the daemon's resident
memory, threads, open file descriptors and asyncio tasks every few seconds, while a new pair of
regions gets a fault every ``--fault-every`` seconds (``rolling``) and the simulator restarts
half-way (every token forgotten). The probe interval sets the load: six requests per cycle, so
2,000 tenants every 80 s are 150 probes a second. At the end: no tenant may be stuck (its last
cycle within two intervals), memory, tasks and descriptors may not have grown by 10 % after the
two-minute warm-up, no worker may have crashed. Then SIGHUP with a broken file must leave the
daemon running on the old configuration, and SIGTERM during a re-grant in flight must exit 0
within the grace period. The figures are printed last; the exit status is 0 when every check
passed. Real time throughout: this is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from grantwarden.app import runtime
from tests.soak import figures, processes, rolling
from tests.soak.figures import Check
from tests.soak.processes import CLOCK

ADMIN_TOKEN = "soak-admin-token-0123456789"
PROBE_TIMEOUT_S = 10.0
PROPAGATION_S = 600  # the re-grant the SIGTERM interrupts is still settling
LATE_EVENTS = {"rate_limited", "probe_failed", "tenant_state_changed", "token_refresh_failed"}  # not after a stop


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=80.0, help="probe_interval in seconds")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before the baseline is taken")
    parser.add_argument("--fault-every", type=float, default=30.0)
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--problem-fraction", type=float, default=0.005, help="share of tenants with each problem")
    return parser.parse_args(argv)


def prepare(config: Path, interval_s: float) -> None:
    """Point the emitted configuration at the soak's pace, a free port and an admin token."""
    token = config.with_name("admin-token")
    token.write_text(ADMIN_TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    raw = yaml.load(config.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    raw["defaults"] = {"probe_interval": interval_s, "probe_timeout": PROBE_TIMEOUT_S}
    raw["server"] = {"listen": "127.0.0.1:0", "admin_token": {"file": str(token)}}
    raw["logging"] = {"level": "info", "format": "json"}
    config.write_text(yaml.dump(raw, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as reply:
        reply.raise_for_status()
        return await reply.json()


async def post(http: aiohttp.ClientSession, url: str, body: Any = None, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(url, json=body, headers=headers) as reply:
        return reply.status


async def metric_values(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """``name{labels}`` → value, from ``/metrics``."""
    async with http.get(f"{url}/metrics") as reply:
        text = await reply.text()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def epoch(iso: str | None) -> float | None:
    return None if iso is None else datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Soak:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.config = tmp / "grantwarden.yaml"
        self.log = tmp / "daemon.log"
        self.tasks_file = tmp / "tasks"
        self.samples: list[processes.Sample] = []
        self.checks: list[Check] = []
        self.facts: list[str] = []
        self.turns = 0
        self.sim = ""  # the simulator's base URL
        self.url = ""  # the daemon's

    async def main_phase(self, http: aiohttp.ClientSession, daemon: asyncio.subprocess.Process) -> None:
        args, started = self.args, CLOCK.now()
        duration = args.minutes * 60.0
        next_fault, restarted = started + args.fault_every, False
        counts_at_warmup: dict[str, Any] | None = None
        while (elapsed := CLOCK.now() - started) < duration:
            if daemon.returncode is not None:
                raise RuntimeError(f"the daemon exited with {daemon.returncode} during the run")
            self.samples.append(processes.sample(daemon.pid, self.tasks_file, elapsed))
            if counts_at_warmup is None and elapsed >= args.warmup:
                counts_at_warmup = {"at": elapsed, **await get_json(http, f"{self.sim}/__soak/counts")}
            if CLOCK.now() >= next_fault:
                turn = await rolling.apply(http, self.sim, self.turns)
                self.facts.append(f"  turn {self.turns:2d} at {elapsed:5.0f} s: {turn.describe()}")
                self.turns, next_fault = self.turns + 1, next_fault + args.fault_every
            if not restarted and elapsed >= duration / 2:
                assert await post(http, f"{self.sim}/__sim/restart") == 200
                self.facts.append(f"  simulator restarted (every token forgotten) at {elapsed:.0f} s")
                restarted = True
            await CLOCK.sleep(args.sample_every)
        await self.end_of_run(http, counts_at_warmup, CLOCK.now() - started)

    async def end_of_run(self, http: aiohttp.ClientSession, warm: dict[str, Any] | None, elapsed: float) -> None:
        status = await get_json(http, f"{self.url}/status")
        now = CLOCK.now()
        tenants = [{**t, "last_cycle_at_epoch": epoch(t["last_cycle_at"])} for t in status["tenants"]]
        late = figures.stuck(tenants, now, self.args.interval)
        detail = f"{len(late)} of {len(tenants)} without a cycle in {2 * self.args.interval:.0f} s {late[:5]}"
        self.checks.append(Check("no tenant stuck", not late and len(tenants) == self.args.tenants, detail))
        self.facts.append("  states at the end: " + ", ".join(f"{k} {v}" for k, v in status["counts"].items() if v))
        notes = {t["name"]: t["note"] for t in (await get_json(http, f"{self.sim}/__sim/state"))["tenants"]}
        starting = [f"{t['tenant']} ({notes.get(t['tenant'])})" for t in tenants if t["state"] == "starting"]
        if starting:
            self.facts.append(f"  {len(starting)} tenants still 'starting' at the end: {', '.join(starting[:10])}")
        counts = await get_json(http, f"{self.sim}/__soak/counts")
        if warm is not None:
            seconds = elapsed - warm["at"]
            api = sum(counts["api"].values()) - sum(warm["api"].values())
            tokens = sum(counts["token"].values()) - sum(warm.get("token", {}).values())
            rates = f"{api / seconds:.1f}/s after warm-up; token requests {tokens / seconds:.2f}/s"
            self.facts.append(f"  probes: {rates}")
        self.facts.append(f"  simulator answered: api {counts['api']}, token {counts.get('token', {})}")
        await rolling.clear(http, self.sim)
        for field, unit, scale in (("rss_kib", "MiB", 1024.0), ("tasks", "tasks", 1.0), ("fds", "fds", 1.0)):
            self.checks.append(figures.flat(self.samples, self.args.warmup, field, unit, scale))
        threads = [s.threads for s in self.samples if s.at >= self.args.warmup]
        self.facts.append(f"  threads after warm-up: min {min(threads)}, max {max(threads)}")
        events = processes.log_events(self.log)
        crashes = sum(1 for e in events if e.get("event") == "worker_crashed")
        metrics = await metric_values(http, self.url)
        restarts = sum(v for k, v in metrics.items() if k.startswith("grantwarden_worker_restarts_total"))
        lag = metrics.get("grantwarden_event_loop_lag_seconds", 0.0)
        self.checks.append(Check("no worker crashed", crashes == 0 and restarts == 0, f"{crashes} crashes"))
        self.facts.append(f"  event loop lag at the end: {lag * 1000:.1f} ms; log lines: {len(events)}")

    async def cycles(self, http: aiohttp.ClientSession) -> int:
        return sum(t["cycles"] for t in (await get_json(http, f"{self.url}/status"))["tenants"])

    async def broken_reload(self, http: aiohttp.ClientSession, daemon: asyncio.subprocess.Process) -> None:
        """SIGHUP with a file that does not parse: keep running on the old configuration."""
        good = self.config.read_text(encoding="utf-8")
        before = await self.cycles(http)
        self.config.write_text("tenants: [\n  - {name: broken\n", encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        await CLOCK.sleep(5.0)
        async with http.get(f"{self.url}/healthz") as reply:
            healthy = reply.status
        reload_ok = (await metric_values(http, self.url))["grantwarden_config_last_reload_successful"]
        failed = [e for e in processes.log_events(self.log) if e.get("event") == "config_reload_failed"]
        went_on = await self.cycles(http) - before
        ok = daemon.returncode is None and healthy == 200 and reload_ok == 0 and len(failed) == 1 and went_on > 0
        detail = f"running, /healthz {healthy}, reload metric {reload_ok:g}, {went_on} cycles in 5 s"
        self.checks.append(Check("SIGHUP with a broken file keeps the old configuration", ok, detail))
        self.config.write_text(good, encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        await CLOCK.sleep(5.0)
        loaded = [e for e in processes.log_events(self.log) if e.get("event") == "config_loaded"]
        reload_ok = (await metric_values(http, self.url))["grantwarden_config_last_reload_successful"]
        unchanged = loaded[-1].get("unchanged") if loaded else None
        ok = reload_ok == 1 and unchanged == self.args.tenants
        detail = f"reload metric {reload_ok:g}, {unchanged} tenants unchanged"
        self.checks.append(Check("SIGHUP with the file restored reloads it", ok, detail))

    async def regrant_in_flight(self, http: aiohttp.ClientSession) -> str:
        """Drift one healthy tenant and make its re-grant settle for minutes; wait until it does."""
        status = await get_json(http, f"{self.url}/status")
        chosen = next(t for t in status["tenants"] if t["state"] == "healthy")
        name, org_id, client_id = chosen["tenant"], chosen["org_id"], chosen["client_id"]
        slow = {"org_id": org_id, "delay_seconds": PROPAGATION_S}
        assert await post(http, f"{self.sim}/__sim/propagation", slow) == 200
        drift = {"action": "remove_role", "role": "Messaging Viewer"}
        assert await post(http, f"{self.sim}/__sim/clients/{client_id}/drift", drift) == 200
        assert await post(http, f"{self.url}/tenants/{name}/reconcile", token=ADMIN_TOKEN) == 202
        give_up = CLOCK.now() + 60.0
        while CLOCK.now() < give_up:
            tenant = (await get_json(http, f"{self.url}/status/{name}"))["tenants"][0]
            if tenant["state"] == "remediating" and any(r["result"] == "applied" for r in tenant["regrants"]):
                return name
            await CLOCK.sleep(0.2)
        raise RuntimeError(f"tenant {name} did not start its re-grant")

    async def sigterm(self, http: aiohttp.ClientSession, daemon: asyncio.subprocess.Process) -> None:
        """SIGTERM while a re-grant is settling: exit 0 within the grace period."""
        name = await self.regrant_in_flight(http)
        started = CLOCK.now()
        daemon.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.wait_for(daemon.wait(), timeout=runtime.GRACE_S + 20.0)
        except TimeoutError:
            code = None
        took = CLOCK.now() - started
        events = processes.log_events(self.log)
        stopping = next(i for i, e in enumerate(events) if e.get("event") == "daemon_stopping")
        stopped = any(e.get("event") == "daemon_stopped" for e in events)
        verified = any(e.get("event") == "regrant_verified" and e.get("tenant") == name for e in events)
        ok = code == 0 and took <= runtime.GRACE_S and stopped and not verified
        detail = f"tenant {name} remediating; exit {code} after {took:.2f} s (grace {runtime.GRACE_S:g} s)"
        self.checks.append(Check("SIGTERM during an in-flight re-grant exits 0 within the grace period", ok, detail))
        late = [e for e in events[stopping:] if e.get("event") in LATE_EVENTS]
        tenants = sorted({str(e["tenant"]) for e in late})
        detail = f"{len(late)} lines ({', '.join(sorted({str(e['event']) for e in late}))}) of {tenants[:5]}"
        self.checks.append(Check("nothing reported as a failure after SIGTERM", not late, detail))

    async def run(self) -> int:
        sim, self.sim = await processes.start_simulator(self.args.tenants, self.args.problem_fraction, self.config)
        try:
            prepare(self.config, self.args.interval)
            daemon = await processes.start_daemon(self.config, self.tasks_file, self.log)
            try:
                self.url = await processes.listen_url(self.log, daemon)
                timeout = aiohttp.ClientTimeout(total=60)
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    await self.main_phase(http, daemon)
                    await self.broken_reload(http, daemon)
                    await self.sigterm(http, daemon)
            finally:
                await processes.stop(daemon)
        finally:
            await processes.stop(sim)
        return self.report()

    def report(self) -> int:
        args = self.args
        out = [
            "",
            f"grantwarden soak: {args.tenants} tenants, {args.minutes:g} min, probe interval {args.interval:g} s, "
            f"{self.turns} fault turns every {args.fault_every:g} s, warm-up {args.warmup:g} s; files in {self.tmp}",
            *self.facts,
            *(f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks),
        ]
        passed = all(c.ok for c in self.checks)
        out.append(f"soak {'PASSED' if passed else 'FAILED'}")
        sys.stdout.write("\n".join(out) + "\n")
        return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="grantwarden-soak-"))
    return asyncio.run(Soak(args, tmp).run())


if __name__ == "__main__":
    sys.exit(main())
