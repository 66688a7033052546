"""identity: the one pair of orgs a tenant's token may name, for its own client and through a trust.

Covers, as a table: a tenant without ``credentials.trust`` accepts its own org with the same (or
no) home org and refuses another org and a trusted user's token; a trust tenant accepts exactly
its org with its trustee as home, and refuses the trustee's own org (a sign-in without
``target=``), another trustee and another org; each mismatch's record message.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import identity

ORG, TRUSTEE, OTHER = "org-x", "org-partner", "org-other"
Kind = identity.Kind


@pytest.mark.parametrize(
    ("home_org_id", "acts_in", "home", "kind", "message"),
    [
        pytest.param(None, ORG, None, None, None, id="own-no-home-named"),
        pytest.param(None, ORG, ORG, None, None, id="own-home-is-the-org"),
        pytest.param(None, ORG, "", None, None, id="own-empty-home"),
        pytest.param(
            None, OTHER, OTHER, Kind.OTHER_ORG, f"the token acts in org {OTHER}, not in org {ORG}", id="other"
        ),
        pytest.param(
            None,
            ORG,
            TRUSTEE,
            Kind.TRUSTED_USER,
            f"the token acts in org {ORG} as a trusted user of org {TRUSTEE}, not as the org's own",
            id="trusted-user-without-trust",
        ),
        pytest.param(TRUSTEE, ORG, TRUSTEE, None, None, id="trust-accepted"),
        pytest.param(
            TRUSTEE,
            TRUSTEE,
            TRUSTEE,
            Kind.OTHER_ORG,
            f"the token acts in org {TRUSTEE}, not in org {ORG}",
            id="trust-signed-in-without-target",
        ),
        pytest.param(
            TRUSTEE,
            ORG,
            OTHER,
            Kind.OTHER_HOME,
            f"the token acts in org {ORG} as a user of org {OTHER}, not of org {TRUSTEE}",
            id="trust-another-trustee",
        ),
        pytest.param(
            TRUSTEE,
            ORG,
            None,
            Kind.OTHER_HOME,
            f"the token acts in org {ORG} as a user of org None",
            id="trust-no-home",
        ),
        pytest.param(
            TRUSTEE,
            OTHER,
            TRUSTEE,
            Kind.OTHER_ORG,
            f"the token acts in org {OTHER} (home org {TRUSTEE}), not in org {ORG}",
            id="trust-another-org",
        ),
    ],
)
def test_judge(home_org_id: str | None, acts_in: str, home: str | None, kind: Kind | None, message: str | None) -> None:
    found = identity.judge(org_id=ORG, home_org_id=home_org_id, acts_in=acts_in, home=home)
    assert (found.kind if found else None) is kind
    if found is not None:
        assert message is not None
        assert found.message.startswith(message)
        assert found.acts_in == acts_in
