"""Token keeping for one tenant, on ManualClock with a scripted token endpoint.

Covers: 50 concurrent callers cause one token request; refresh lands 5–10 minutes before a 24 h
token expires; a token of any lifetime (20 s included) is minted at most once per refresh period
while probes use it every second; ``get(valid_for_s=)`` mints when the token in hand would not
last; failures back off exponentially and never past the old token's expiry; a failing
credential is not tried again before its backoff; a 429 with Retry-After 7 holds the next mint
at least 7 s, and reaches the tenant's status as a 429 on ``token`` (counted once in the metric);
the global mint limiter caps the rate, also for 10,000 tenants starting at once; new refresh
settings schedule the next token and leave the one in hand alone; a missing secret's backoff can
be forgotten once it is there; metrics and logs say what happened; no token value reaches a log
line. (The 401 retry around requests: ``test_api``.)
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

import prometheus_client
import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import errorbody, labels, scheduling
from grantwarden.policy import tokens as token_policy
from grantwarden.remote import errors, oauth
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import minting, refreshing, reporting, tokenbox
from grantwarden.worker import status as health

DEFAULTS = settings.RefreshSettings()  # at 75 % of the lifetime, minus up to 10 %; max_lead 5 min


class ScriptedEndpoint:
    """Answers mint requests from a script of results; counts what it was asked."""

    def __init__(self, clock: clock_mod.ManualClock, lifetime: int = 86400) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.minted_at: list[float] = []  # when each request came
        self.failures: list[Callable[[], errors.RemoteError]] = []
        self.gate: asyncio.Event | None = None

    async def mint(self) -> oauth.TokenGrant:
        self.calls += 1
        self.minted_at.append(self.clock.now())
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)()
        return oauth.TokenGrant(
            access_token=f"tok-{self.calls}-s3cr3t",
            token_type="bearer",
            expires_in=self.lifetime,
            received_at=self.clock.now(),
        )


def reply(status: int, body: bytes = b"{}", retry_after: float | None = None) -> errors.Reply:
    return errors.Reply(
        method="POST", path="/oauth/token", status=status, retry_after=retry_after, facts=errorbody.parse(body)
    )


def invalid_client() -> errors.RemoteError:
    return errors.InvalidClient(reply(401, b'{"error":"invalid_client","error_description":"authentication failed"}'))


def make_box(
    clock: clock_mod.ManualClock,
    endpoint: ScriptedEndpoint,
    registry: prometheus_client.CollectorRegistry,
    seed: int = 1,
) -> tokenbox.TokenBox:
    return tokenbox.TokenBox(
        tenant="acme",
        mint=endpoint.mint,
        clock=clock,
        rng=random.Random(seed),
        refresh=DEFAULTS,
        metrics=metrics_mod.Metrics(registry=registry),
    )


@pytest.fixture
def registry() -> prometheus_client.CollectorRegistry:
    return prometheus_client.CollectorRegistry()


async def test_fifty_concurrent_callers_share_one_token_request(registry: prometheus_client.CollectorRegistry) -> None:
    clock = clock_mod.ManualClock()
    endpoint = ScriptedEndpoint(clock)
    endpoint.gate = asyncio.Event()
    box = make_box(clock, endpoint, registry)
    waiters = [asyncio.create_task(box.get()) for _ in range(50)]
    await clock.settle()
    endpoint.gate.set()
    tokens = await asyncio.gather(*waiters)
    assert endpoint.calls == 1
    assert {t.value for t in tokens} == {"tok-1-s3cr3t"}
    assert registry.get_sample_value("grantwarden_token_requests_total", {"tenant": "acme", "result": "ok"}) == 1


async def test_concurrent_callers_all_see_the_same_failure_and_only_one_request(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock()
    endpoint = ScriptedEndpoint(clock)
    endpoint.failures = [invalid_client]
    endpoint.gate = asyncio.Event()
    box = make_box(clock, endpoint, registry)
    waiters = [asyncio.create_task(box.get()) for _ in range(10)]
    await clock.settle()
    endpoint.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert endpoint.calls == 1
    assert all(isinstance(r, tokenbox.TokenUnavailableError) for r in results)
    assert (
        registry.get_sample_value("grantwarden_token_requests_total", {"tenant": "acme", "result": "invalid_client"})
        == 1
    )


@pytest.mark.parametrize("seed", range(20))
async def test_a_day_long_token_is_refreshed_five_to_ten_minutes_before_it_expires(
    seed: int, registry: prometheus_client.CollectorRegistry
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock, lifetime=86400)
    box = make_box(clock, endpoint, registry, seed=seed)
    stop = asyncio.Event()
    loop = asyncio.create_task(refreshing.Refresher(box=box, clock=clock).run(stop))
    await clock.advance(0)
    assert endpoint.calls == 1
    await clock.advance(86400 - 600 - 1)
    assert endpoint.calls == 1
    await clock.advance(300 + 2)
    assert endpoint.calls == 2
    stop.set()
    await loop


async def probe_every(
    box: tokenbox.TokenBox, clock: clock_mod.ManualClock, step: float, used: list[tuple[float, tokenbox.Token]]
) -> None:
    """A prober: a token for a request every ``step`` seconds, as ``api.TenantApi`` asks for one."""
    while True:
        used.append((clock.now(), await box.get()))
        await clock.sleep(step)


async def run_with_refresher(box: tokenbox.TokenBox, clock: clock_mod.ManualClock, step: float, span: float) -> list:
    """The refresh loop and a prober on ``box`` for ``span`` seconds; the tokens the prober used."""
    used: list[tuple[float, tokenbox.Token]] = []
    stop = asyncio.Event()
    refresher = asyncio.create_task(refreshing.Refresher(box=box, clock=clock).run(stop))
    prober = asyncio.create_task(probe_every(box, clock, step, used))
    for _ in range(round(span / step)):
        await clock.advance(step)
    prober.cancel()
    stop.set()
    await clock.settle()
    await asyncio.gather(refresher, prober, return_exceptions=True)
    return used


async def test_twenty_second_tokens_probed_every_second_are_minted_once_per_refresh_period(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    """The tenant that asked 65 tokens in 45 s: with a flat 30 s margin no 20 s token was usable."""
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock, lifetime=20)
    used = await run_with_refresher(make_box(clock, endpoint, registry), clock, step=1.0, span=45.0)
    assert len(used) >= 45
    assert endpoint.calls <= 4, "one at the start, then one per 13-15 s refresh period"
    assert all(at < token.expires_at for at, token in used), "never a token past its expiry"
    requests = registry.get_sample_value("grantwarden_token_requests_total", {"tenant": "acme", "result": "ok"})
    assert requests == endpoint.calls


@pytest.mark.parametrize("lifetime", [1, 5, 20, 45, 299, 300, 3600])
async def test_a_token_of_any_lifetime_is_minted_at_most_once_per_refresh_period(
    lifetime: int, registry: prometheus_client.CollectorRegistry
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock, lifetime=lifetime)
    box = make_box(clock, endpoint, registry, seed=lifetime)
    used = await run_with_refresher(box, clock, step=lifetime / 20, span=6 * lifetime)
    minted = endpoint.minted_at
    # The earliest a refresh may come (policy.tokens.refresh_at with the defaults).
    period = lifetime - min(0.25 * lifetime, 300.0) - min(0.1 * lifetime, 300.0)
    gaps = [b - a for a, b in itertools.pairwise(minted)]
    assert min(gaps) >= period - 1e-6, f"a token was minted before its refresh period was over: {gaps}"
    assert len(minted) <= 6 * lifetime / period + 1
    assert all(at < token.expires_at for at, token in used)


async def test_a_token_that_would_not_last_long_enough_is_replaced(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock, lifetime=3600)
    box = make_box(clock, endpoint, registry)
    first = await box.get(valid_for_s=600)
    assert (await box.get(valid_for_s=600)).value == first.value
    await clock.advance(3000)  # 600 s left, less 30 s of margin: too short for a 600 s hand-off
    second = await box.get(valid_for_s=600)
    assert (second.value, endpoint.calls) == ("tok-2-s3cr3t", 2)
    assert second.expires_at - clock.now() >= 600
    assert (await box.get()).value == second.value


async def test_failures_back_off_exponentially_and_never_past_the_old_tokens_expiry(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock, lifetime=3600)
    box = make_box(clock, endpoint, registry)
    await box.get()
    expires_at = box.token.expires_at if box.token else 0.0
    endpoint.failures = [invalid_client] * 100
    stop = asyncio.Event()
    loop = asyncio.create_task(refreshing.Refresher(box=box, clock=clock).run(stop))
    attempt_times: list[float] = []
    previous = endpoint.calls
    await clock.settle()
    for _ in range(4000):
        deadline = clock.next_deadline()
        if deadline is None or deadline > 2 * 3600:
            break
        await clock.advance(deadline - clock.now())
        if endpoint.calls != previous:
            attempt_times.append(clock.now())
            previous = endpoint.calls
    stop.set()
    await loop
    gaps = [b - a for a, b in itertools.pairwise(attempt_times)]
    before_expiry = [t for t in attempt_times if t < expires_at]
    assert len(before_expiry) >= 5
    assert any(t >= expires_at - 31 for t in before_expiry), "a retry must land just before the old token expires"
    after = [g for t, g in zip(attempt_times[1:], gaps, strict=False) if t > expires_at + 600]
    assert max(after) <= 300.0
    assert max(gaps) >= 150.0, "the backoff must grow towards its 5-minute cap"


async def test_a_failing_credential_is_not_asked_again_before_its_backoff(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock)
    endpoint.failures = [invalid_client, invalid_client]
    box = make_box(clock, endpoint, registry)
    with pytest.raises(tokenbox.TokenUnavailableError):
        await box.get()
    for _ in range(5):
        with pytest.raises(tokenbox.TokenUnavailableError):
            await box.get()
    assert endpoint.calls == 1
    assert box.retry_at is not None
    await clock.advance(box.retry_at - clock.now())
    with pytest.raises(tokenbox.TokenUnavailableError):
        await box.get()
    assert endpoint.calls == 2


async def test_a_rate_limited_mint_waits_at_least_its_retry_after(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock)
    body = b'{"code":"too.many.requests.retry.after","status":429}'
    endpoint.failures = [lambda: errors.RateLimited(reply(429, body, retry_after=7.0))]
    box = make_box(clock, endpoint, registry)
    with pytest.raises(tokenbox.TokenUnavailableError):
        await box.get()
    assert box.retry_at is not None
    assert box.retry_at >= 7.0
    assert registry.get_sample_value("grantwarden_token_requests_total", {"tenant": "acme", "result": "rate_limited"})


async def test_the_mint_limiter_caps_token_requests_per_second() -> None:
    clock = clock_mod.ManualClock(start=0.0)
    limiter = minting.MintLimiter(rate_per_second=20, burst=20, clock=clock)
    done: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        done.append(clock.now())

    tasks = [asyncio.create_task(one()) for _ in range(100)]
    await clock.advance(10)
    await asyncio.gather(*tasks)
    assert len(done) == 100
    for second in range(5):
        assert sum(1 for t in done if second <= t < second + 1) <= 20 + (20 if second == 0 else 0)
    assert max(done) == pytest.approx(4.0)


async def test_token_values_never_reach_log_lines(registry: prometheus_client.CollectorRegistry) -> None:
    clock = clock_mod.ManualClock()
    endpoint = ScriptedEndpoint(clock)
    endpoint.failures = [invalid_client]
    box = make_box(clock, endpoint, registry)
    with capture_logs() as logs:
        with pytest.raises(tokenbox.TokenUnavailableError):
            await box.get()
        await clock.advance(box.retry_at or 0)
        await box.get()
    events = [entry["event"] for entry in logs]
    assert events == ["token_refresh_failed", "token_acquired"]
    assert "s3cr3t" not in repr(logs)
    assert "s3cr3t" not in repr(box.token)


async def test_the_refresh_loop_mints_the_first_token_itself_on_a_real_clock(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.LoopClock()
    endpoint = ScriptedEndpoint(clock)  # type: ignore[arg-type]  # only now() is used
    box = tokenbox.TokenBox(
        tenant="acme",
        mint=endpoint.mint,
        clock=clock,
        rng=random.Random(1),
        refresh=DEFAULTS,
        metrics=metrics_mod.Metrics(registry=registry),
    )
    stop = asyncio.Event()
    loop = asyncio.create_task(refreshing.Refresher(box=box, clock=clock).run(stop))
    await box.changed.wait()  # set by the first token; a refresher that never mints hangs here
    stop.set()
    await loop
    assert endpoint.calls == 1
    assert box.token is not None


@pytest.mark.parametrize(("sent", "counted"), [(False, None), (True, 1.0)], ids=["never-sent", "sent"])
async def test_only_token_requests_that_went_out_are_counted(
    sent: bool, counted: float | None, registry: prometheus_client.CollectorRegistry
) -> None:
    async def mint() -> oauth.TokenGrant:
        raise minting.MintFailedError("the secret reference cannot be resolved", sent=sent)

    box = tokenbox.TokenBox(
        tenant="acme",
        mint=mint,
        clock=clock_mod.ManualClock(),
        rng=random.Random(1),
        refresh=DEFAULTS,
        metrics=metrics_mod.Metrics(registry=registry),
    )
    with pytest.raises(tokenbox.TokenUnavailableError):
        await box.get()
    assert registry.get_sample_value("grantwarden_token_requests_total", {"tenant": "acme", "result": "error"}) == (
        counted
    )


async def test_a_429_from_the_token_endpoint_reaches_the_status_as_a_429_on_token(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock)
    body = b'{"code":"too.many.requests.retry.after","status":429}'
    endpoint.failures = [lambda: errors.RateLimited(reply(429, body, retry_after=40.0))]
    metrics = metrics_mod.Metrics(registry=registry)
    status = health.TenantStatus("acme", "org-1", "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    box = tokenbox.TokenBox(
        tenant="acme",
        mint=endpoint.mint,
        clock=clock,
        rng=random.Random(1),
        refresh=DEFAULTS,
        metrics=metrics,
        observer=reporting.Reporter(status=status, metrics=metrics, clock=clock),
    )
    with pytest.raises(tokenbox.TokenUnavailableError):
        await box.get()
    assert (status.rate_limited, status.rate_limited_probe, status.rate_limited_retry_after) == (1, "token", 40.0)
    assert registry.get_sample_value("grantwarden_rate_limited_total", {"tenant": "acme"}) == 1, "counted once"


async def test_new_refresh_settings_schedule_the_next_token_and_leave_the_one_in_hand(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock, lifetime=1000)
    box = make_box(clock, endpoint, registry)
    first = await box.get()
    box.reconfigure(refresh=settings.RefreshSettings(at_fraction=0.5, jitter_fraction=0.0, max_lead=1000))
    assert box.token is first, "no mint for a new fraction"
    assert endpoint.calls == 1
    await clock.advance(first.refresh_at - clock.now())
    second = await box.refresh()
    assert second.refresh_at - second.received_at == pytest.approx(500.0), "the next token at half its lifetime"


async def test_a_missing_secrets_backoff_is_forgotten_once_it_is_there(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    clock = clock_mod.ManualClock(start=0.0)
    endpoint = ScriptedEndpoint(clock)
    missing = minting.MintFailedError("no secret", problem=token_policy.TokenProblem.SECRET_UNAVAILABLE)
    endpoint.failures = [lambda: missing] * 3  # type: ignore[list-item]  # raised as the mint's failure
    box = make_box(clock, endpoint, registry)
    for _ in range(3):
        with pytest.raises(tokenbox.TokenUnavailableError):
            await box.refresh(force=True)
    assert box.retry_at is not None
    assert box.retry_at > clock.now()
    box.retry_now()
    assert box.retry_at is None
    assert (await box.get()).value.startswith("tok-")


class InstantClock(clock_mod.Clock):
    """Time that moves on by itself whenever someone sleeps: right for the mint limiter alone,
    whose one waiter in front is the only sleeper (everyone else queues on its lock)."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    async def sleep(self, delay: float, *, wakeup: object = ()) -> bool:
        self.time += max(0.0, delay)
        return False


async def test_ten_thousand_tenants_starting_at_once_never_mint_faster_than_the_rate() -> None:
    clock = InstantClock()
    rate, tenants = 20.0, 10_000
    limiter = minting.MintLimiter(rate_per_second=rate, burst=1, clock=clock)
    granted: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        granted.append(clock.now())

    await asyncio.gather(*(one() for _ in range(tenants)))
    assert len(granted) == tenants
    per_second: dict[int, int] = {}
    for at in granted:
        per_second[int(at)] = per_second.get(int(at), 0) + 1
    assert max(per_second.values()) <= rate + 1, "never above the rate (a second may hold both of its ends)"
    assert granted[-1] == pytest.approx((tenants - 1) / rate), "the whole fleet at exactly the rate"
    window = scheduling.first_window(60.0, tenants=tenants, rate_per_s=rate)
    assert window == 60.0, "their first cycles spread over the interval: the limiter meters the rest"
