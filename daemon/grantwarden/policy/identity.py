"""Whose token this is: the identity check's rule, for a tenant's own org and for an org trust.

``GET /api/v2/tokens/me`` names the org a token acts in (``organization``) and the org its user
or client belongs to (``homeOrganization``); the two differ exactly when a trusted user of
another org acts in this one (platform.md §3.1, §13). A tenant accepts one pair only:

    tenant                                      organization   homeOrganization
    its own client (no ``credentials.trust``)   org_id         org_id (or not named)
    through a trust (``trust.home_org_id: H``)  org_id         H

Anything else is ``wrong_org``: another org's client or user (platform.md §7), a trusted user's
token where the org's own was expected, or, for a trust tenant, a sign-in that picked the wrong
org (no ``target=``) or came from a user of another trustee. ``Mismatch`` says which, so the
finding can explain it. Pure; called by the identity probe (``worker.probing``) and ``diagnosis``.
"""

from __future__ import annotations

import dataclasses
import enum

from grantwarden.policy import findings
from grantwarden.policy.labels import GrantType, Outcome


class Kind(enum.StrEnum):
    OTHER_ORG = "other_org"  # the token acts in another org than the tenant's
    TRUSTED_USER = "trusted_user"  # right org, but a trusted user's token: not this org's own
    OTHER_HOME = "other_home"  # a trust tenant: right org, but the user's home is not the trustee


@dataclasses.dataclass(frozen=True, slots=True)
class Mismatch:
    kind: Kind
    acts_in: str  # the org the token acts in
    home: str | None  # the token's home org, when named
    org_id: str  # the tenant's org
    expected_home: str | None = None  # a trust tenant's trustee org

    @property
    def message(self) -> str:
        """The probe record's message (status page, ``probe_failed``)."""
        if self.kind is Kind.TRUSTED_USER:
            return f"the token acts in org {self.acts_in} as a trusted user of org {self.home}, not as the org's own"
        if self.kind is Kind.OTHER_HOME:
            return f"the token acts in org {self.acts_in} as a user of org {self.home}, not of org {self.expected_home}"
        home = f" (home org {self.home})" if self.home and self.home != self.acts_in else ""
        return f"the token acts in org {self.acts_in}{home}, not in org {self.org_id}"


def judge(*, org_id: str, home_org_id: str | None, acts_in: str, home: str | None) -> Mismatch | None:
    """None when a token acting in ``acts_in`` for a user or client of ``home`` is the tenant's.

    ``home_org_id``: the trustee org of a tenant that acts through a trust, else None.
    """
    home = home or None
    if acts_in != org_id:
        return Mismatch(Kind.OTHER_ORG, acts_in, home, org_id, home_org_id)
    if home_org_id is None:
        return None if home in (None, org_id) else Mismatch(Kind.TRUSTED_USER, acts_in, home, org_id)
    return None if home == home_org_id else Mismatch(Kind.OTHER_HOME, acts_in, home, org_id, home_org_id)


def finding(s: findings.Subject, mismatch: Mismatch) -> findings.Finding:
    """The ``wrong_org`` finding for ``mismatch``, explaining the trust when there is one."""
    if mismatch.kind is Kind.OTHER_ORG and s.home_org_id is None:
        return findings.identity_finding(s, mismatch.acts_in)
    home = mismatch.home or "not named"
    if mismatch.kind is Kind.OTHER_ORG:
        summary = (
            f"Tenant {s.tenant}: the token of OAuth client {s.client_id} acts in org {mismatch.acts_in} (home org "
            f"{home}), not in org {s.org_id} that it should reach through the org trust from org {s.org_id} to org "
            f"{s.home_org_id}."
        )
        fix = (
            f"Sign in again with OAuth client {s.client_id} so that the token acts in org {s.org_id}: run "
            f"`{s.authorize}`, which asks with target={s.org_id}; or the trust from org {s.org_id} to org "
            f"{s.home_org_id} is disabled, expired or no longer lets this user in: an admin of org {s.org_id} "
            "checks it."
        )
    elif mismatch.kind is Kind.TRUSTED_USER:
        summary = (
            f"Tenant {s.tenant}: the token acts in org {s.org_id}, but as a trusted user of org {home} "
            f"(OAuth client {s.client_id}), not as org {s.org_id}'s own."
        )
        fix = (
            f"Sign in as a user of org {s.org_id} (run `{s.authorize}`), or use org {s.org_id}'s own OAuth client "
            f"instead of OAuth client {s.client_id}; to act through the trust from org {s.org_id} to org {home} on "
            f"purpose, set credentials.trust.home_org_id to {home} for tenant {s.tenant}."
        )
    else:
        summary = (
            f"Tenant {s.tenant}: the token of OAuth client {s.client_id} acts in org {s.org_id} as a user of org "
            f"{home}, not of org {s.home_org_id} whose trust the tenant names (credentials.trust.home_org_id)."
        )
        fix = (
            f"Sign in with OAuth client {s.client_id} as a member of the trust from org {s.org_id} to org "
            f"{s.home_org_id} (run `{s.authorize}`), or set credentials.trust.home_org_id of tenant {s.tenant} to "
            f"{home} if that org is meant."
        )
    command = s.authorize if s.grant_type is GrantType.AUTHORIZATION_CODE else None
    return findings.make(s, "token", Outcome.WRONG_ORG, summary, findings.Text(fix, command=command))
