"""status: what a tenant's record says about its identity check, for anyone handing a token out.

Covers, as a table: the identity check has passed only when the last ``token`` probe passed and
the token acted in the tenant's own org; never before the first check, after a ``wrong_org`` or a
refused token, or when an earlier pass named the org but the last one failed.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import catalog, labels
from grantwarden.worker import status as health

ORG = "org-1"
Outcome = labels.Outcome


def record(outcome: labels.Outcome) -> health.ProbeRecord:
    return health.ProbeRecord(catalog.TOKEN, outcome, 200 if outcome is Outcome.OK else 401, None, None, 0.1, 0.0)


@pytest.mark.parametrize(
    ("outcome", "identity_org_id", "verified"),
    [
        pytest.param(None, None, False, id="never-checked"),
        pytest.param(Outcome.OK, ORG, True, id="passed-in-its-org"),
        pytest.param(Outcome.WRONG_ORG, "org-2", False, id="another-org"),
        pytest.param(Outcome.UNAUTHORIZED, ORG, False, id="passed-once-refused-now"),
        pytest.param(Outcome.OK, None, False, id="no-org-named"),
    ],
)
def test_the_identity_check_has_passed_only_for_the_tenants_own_org(
    outcome: labels.Outcome | None, identity_org_id: str | None, verified: bool
) -> None:
    status = health.TenantStatus("acme", ORG, "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    status.identity_org_id = identity_org_id
    if outcome is not None:
        status.probes[catalog.TOKEN] = record(outcome)
    assert status.identity_verified is verified
