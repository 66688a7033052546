"""acting, for refusals the integration reported of calls grantwarden must not repeat (design.md §2.8.2).

Covers: a re-grant planned for an observed non-GET operation is applied (one PUT, an ``applied``
record), and then left to the integration's next report: no settle wait, no ``verified`` or
``failed`` record, nothing to diagnose again (the tenant stays ``remediating`` until its next
cycle); and the prober can repeat only the probes it has (an observed GET is verified by repeating
it: ``tests/e2e/test_handoff_sdk.py``).
"""

from __future__ import annotations

import asyncio

from grantwarden.policy import catalog, diagnosis, labels
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.permissions import Requirement
from grantwarden.worker import acting, probing
from grantwarden.worker import status as health
from tests.worker import fakes
from tests.worker.test_acting import Tenant, regrant

PERMISSION = "messaging:integration:view"
POSTED = "traffic:post-conversations-messaging-integrations"


def reported_pass() -> probing.Pass:
    """A pass whose identity check passed, with the integration's reported 403 merged in."""
    denied = Verdict(
        labels.Outcome.MISSING_PERMISSION, status=403, code="missing.permissions", permissions=(PERMISSION,),
        requirement=Requirement.ALL,
    )  # fmt: skip
    ok = Verdict(labels.Outcome.OK, status=200)
    records = {
        name: health.ProbeRecord(name, v.outcome, v.status, v.code, None, 0.0, 0.0)
        for name, v in ((catalog.TOKEN, ok), (POSTED, denied))
    }
    return probing.Pass(verdicts={catalog.TOKEN: ok, POSTED: denied}, records=records, identity_org_id=fakes.ORG)


async def test_a_regrant_for_a_reported_post_is_applied_and_left_to_the_next_report() -> None:
    tenant = Tenant(regrant(), propagates=False)
    tenant.api.forbidden.clear()  # grantwarden's own probes pass: only the integration met the 403
    observed = reported_pass()
    plans = await tenant.planner.plans(observed.verdicts)
    decision = tenant.actor.decide(observed, plans, reconcile=False)
    result = diagnosis.diagnose(
        tenant="acme", org_id=fakes.ORG, client_id=fakes.CLIENT, grant_type=labels.GrantType.CLIENT_CREDENTIALS,
        mode=labels.RegrantMode.REMEDIATE, identity_org_id=fakes.ORG, token_problem=None,
        verdicts=observed.verdicts, plans=plans,
    )  # fmt: skip
    after = await asyncio.wait_for(tenant.actor.act(acting.Cycle(observed, plans, decision, result), tenant.stop), 5)
    assert after is None, "nothing grantwarden can repeat: the integration's next report tells"
    assert tenant.puts() == 1
    assert [r.result for r in tenant.status.regrants] == [labels.RegrantResult.PLANNED, labels.RegrantResult.APPLIED]
    assert tenant.status.state is labels.State.REMEDIATING
    assert tenant.prober.verifiable({POSTED, catalog.BUILTIN["messaging-integrations"].name}) == {
        "messaging-integrations"
    }
