"""Whether one tenant's token may go out now, and if not, why (``traffic.NotReadyError``) and the fix.

A token goes out (through the hand-off, a file, or the in-path proxy) only once an identity check
(``GET /api/v2/tokens/me``) has shown the credential acting in the tenant's own org, and never
while the last check says another org. The proof is kept per *lineage*: a client-credentials
client always acts in its own org (platform.md §7), so a restarted worker keeps what the
tenant's status knew; a user grant proves itself again, and again whenever another grant is stored
(``usergrant.Minter.grants`` counts them). Here too: the refusal for a box with no usable token,
the fix taken from the tenant's own findings, and the constant-time match of a reported token.

Why apart from ``access``: these are the rules of who may be answered, with no token in hand;
``access`` carries them out. What it must not do: hold, mint or log a token. Caller: ``access``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from grantwarden.config import models as settings
from grantwarden.policy import catalog, errorbody, labels, traffic
from grantwarden.remote import errors
from grantwarden.worker import probing, statusjson, tokenbox, verdicts
from grantwarden.worker import status as health

_CLIENT_REFUSAL = errorbody.ErrorFacts(message="the integration reported this token refused (401)")


class Clearance:
    """The identity proof of one tenant's credential: verified for which lineage, or another org."""

    __slots__ = ("_lineage", "_other_org", "_verified", "name", "org_id", "status")

    def __init__(self, *, tenant: settings.Tenant, status: health.TenantStatus, lineage: Callable[[], int]) -> None:
        """``lineage`` counts the credentials (stored grants) the tenant's box has minted from."""
        self.name, self.org_id, self.status = tenant.name, tenant.org_id, status
        self._lineage = lineage
        known = status.identity_org_id
        self._other_org: str | None = known if known not in (None, tenant.org_id) else None
        # A restarted worker keeps what its tenant's status knew of a client's identity: the
        # client is the same, so is its org. A user grant proves itself again.
        machine = tenant.credentials.grant is labels.GrantType.CLIENT_CREDENTIALS
        self._verified: int | None = 0 if machine and status.identity_verified else None

    def why_not(self) -> traffic.NotReadyError | None:
        """Why no token may go out now, whatever the box holds; None when one may."""
        if (other := self._other_org) is not None:
            default = f"Use org {self.org_id}'s own OAuth client: these credentials act in org {other}."
            return traffic.NotReadyError("wrong_org", str(labels.Outcome.WRONG_ORG), finding_fix(self.status, default))
        if self._verified is None or self._verified != self._lineage():
            record = self.status.probes.get(catalog.TOKEN)
            when = statusjson.iso(self.status.next_cycle_at) or "once the worker runs"
            fix = (
                f"Tenant {self.name}'s token goes out once an identity check shows it acting in org {self.org_id} "
                f"(GET /api/v2/tokens/me); the next check starts at {when}."
            )
            if record is None or record.outcome is labels.Outcome.OK:
                return traffic.NotReadyError("identity_not_verified", "pending", fix, self.status.next_cycle_at)
            fix = finding_fix(self.status, fix)
            return traffic.NotReadyError("identity_not_verified", str(record.outcome), fix, self.status.next_cycle_at)
        return None

    def mark(self) -> int:
        """The credential lineage a pass starting now checks (taken before its first request)."""
        return self._lineage()

    def learn(self, observed_pass: probing.Pass, mark: int) -> bool:
        """Learn from a pass's identity check; True when it showed the credential of lineage
        ``mark`` acting in the tenant's org."""
        verdict = observed_pass.verdicts.get(catalog.TOKEN)
        identity = observed_pass.identity_org_id
        if verdict is not None and verdict.outcome is labels.Outcome.OK and identity == self.org_id:
            self._verified, self._other_org = mark, None
            return True
        if identity is not None and identity != self.org_id:
            self._verified, self._other_org = None, identity
        return False

    def revoke(self) -> None:
        """The worker ended: a new one proves itself again."""
        self._verified = None


def finding_fix(status: health.TenantStatus, default: str, probe: str = catalog.TOKEN) -> str:
    """The fix of the tenant's finding on ``probe``, else ``default``."""
    found = next((f for f in status.findings if f.probe == probe), None)
    return found.fix if found is not None else default


def unavailable(name: str, status: health.TenantStatus, exc: tokenbox.TokenUnavailableError) -> traffic.NotReadyError:
    """The refusal while the box has no usable token (backing off, or none yet)."""
    error = "backing_off" if exc.retry_at is not None else "no_token"
    # As a probe reads it: a token endpoint that fails keeps its own outcome (an outage is no
    # credential problem); a refused credential or a local failure is unauthorized.
    cause = exc.cause
    outcome = labels.Outcome.UNAUTHORIZED
    if isinstance(cause, errors.RemoteError) and not exc.refused:
        outcome = verdicts.of_exception(cause).outcome
    fix = finding_fix(status, f"See GET /status/{name}: tenant {name} has no usable token now.")
    return traffic.NotReadyError(error, str(outcome), fix, exc.retry_at)


def matches(value: str, presented: str) -> bool:
    """``presented`` is the token itself or its SHA-256 in hex; compared in constant time."""
    if hmac.compare_digest(value.encode(), presented.encode()):
        return True
    return hmac.compare_digest(traffic.digest(value).encode(), presented.strip().lower().encode())


def client_refusal() -> errors.Unauthorized:
    """The integration's 401 on a token, as the box's refusal reads it."""
    reply = errors.Reply(method="GET", path="(the integration's request)", status=401, facts=_CLIENT_REFUSAL)
    return errors.Unauthorized(reply)
