"""The org facts a re-grant plan needs, fetched only when a probe fails for a plannable reason.

A bare 403 cannot say whether grantwarden may fix it. The answer needs four facts of the org:
which permissions it is licensed for (``GET /api/v2/authorization/permissions``, read with the
tenant's own token: it needs no permission, platform.md §2.4), its roles and what they grant, the
client's current ``roleDivisions`` (or scopes), and which roles the admin identity holds (a
client may only be given roles its editor holds, platform.md §2.4). The last three are read with
the tenant's ``admin_credentials``. Licensed permissions are cached for an hour; the rest is read
fresh for each plan, since a person may have changed them. A tenant that acts through an org
trust plans nothing: its client is the trustee org's and its rights the trust member's
(platform.md §13); its missing permissions are read as missing trustor roles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import forbidden, labels, permissions, planning
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RoleDivision
from grantwarden.remote import errors
from grantwarden.worker import api, inquiry, probing, tokenbox
from grantwarden.worker import status as health

LICENSED_TTL_S = 3600.0


@dataclasses.dataclass(frozen=True)
class Facts:
    roles: tuple[permissions.RoleFacts, ...]
    client_role_divisions: tuple[RoleDivision, ...]
    client_scopes: tuple[str, ...]
    home_division_id: str
    admin_role_ids: frozenset[str]


class Planner:
    __slots__ = (
        "_admin",
        "_api",
        "_client_id",
        "_clock",
        "_grant_type",
        "_grants",
        "_licensed",
        "_licensed_at",
        "_trusted",
    )

    def __init__(
        self,
        *,
        grant_type: labels.GrantType,
        client_id: str,
        grants: settings.Grants,
        api: api.TenantApi,
        admin: api.TenantApi | None,
        clock: clock_mod.Clock,
        trusted: bool = False,
    ) -> None:
        """``api``: the tenant's own identity; ``admin``: its admin_credentials', if it has any;
        ``trusted``: the tenant acts through an org trust (``credentials.trust``)."""
        self._trusted = trusted
        self._grant_type = grant_type
        self._client_id = client_id
        self._grants = grants
        self._api = api
        self._admin = admin
        self._clock = clock
        self._licensed: frozenset[str] | None = None
        self._licensed_at = float("-inf")

    def reconfigure(self, *, grants: settings.Grants) -> None:
        """A new allow-list (a reload changed the blueprint), from the next plan on."""
        self._grants = grants

    def inquirer(self, *, tenant: settings.Tenant, status: health.TenantStatus) -> inquiry.Inquirer:
        """The tenant's inquirer, over the same identities and allow-list (made when first needed)."""
        return inquiry.Inquirer(
            tenant=tenant,
            allow_roles=self._grants.roles,
            api=self._api,
            admin=self._admin,
            status=status,
            clock=self._clock,
        )

    async def licensed(self) -> frozenset[str] | None:
        """The org's licensed permissions (cached an hour); None when they cannot be read."""
        if self._licensed is not None and self._clock.now() - self._licensed_at < LICENSED_TTL_S:
            return self._licensed
        try:
            self._licensed = await self._api.licensed_permissions()
        except (errors.RemoteError, tokenbox.TokenUnavailableError):
            return self._licensed  # the last known list, if any; unknown otherwise
        self._licensed_at = self._clock.now()
        return self._licensed

    async def refine(self, observed: probing.Pass) -> probing.Pass:
        """``observed``, with missing permissions the org is not licensed for as ``unlicensed``
        (platform.md §4.3): a new pass, records included; ``observed`` itself is left as it was."""
        grant_type = self._grant_type
        if self._trusted:
            return observed.revised({name: forbidden.refine_trusted(v) for name, v in observed.verdicts.items()})
        missing = {n: v for n, v in observed.verdicts.items() if planning.plannable(v.outcome, grant_type=grant_type)}
        if not missing or grant_type is not labels.GrantType.CLIENT_CREDENTIALS:
            return observed
        licensed = await self.licensed()
        return observed.revised({name: forbidden.refine_licensed(v, licensed) for name, v in missing.items()})

    async def plans(self, verdicts: Mapping[str, Verdict]) -> dict[str, Plan]:
        """A plan (or refusal) for every failing probe a re-grant could concern."""
        plans: dict[str, Plan] = {}
        wanted: list[str] = []
        for name, verdict in verdicts.items():
            refusal = planning.refuse_for(verdict.outcome, grant_type=self._grant_type, trusted=self._trusted)
            if refusal is not None:
                plans[name] = refusal
            elif planning.plannable(verdict.outcome, grant_type=self._grant_type, trusted=self._trusted):
                wanted.append(name)
        if not wanted:
            return plans
        facts = await self._facts()
        for name in wanted:
            plans[name] = facts if isinstance(facts, Refusal) else self._plan(verdicts[name], facts)
        return plans

    def _plan(self, verdict: Verdict, facts: Facts) -> Plan:
        if self._grant_type is not labels.GrantType.CLIENT_CREDENTIALS:
            return planning.plan_scopes(
                acceptable=verdict.scopes, allow_scopes=self._grants.scopes, client_scopes=facts.client_scopes
            )
        return planning.plan_roles(
            missing=frozenset(verdict.permissions),
            requirement=verdict.requirement or permissions.Requirement.ALL,
            allow_roles=self._grants.roles,
            division=self._grants.division,
            home_division_id=facts.home_division_id,
            org_roles=facts.roles,
            client_role_divisions=facts.client_role_divisions,
            licensed=self._licensed,
            admin_role_ids=facts.admin_role_ids,
            divisions=verdict.divisions,
        )

    async def _facts(self) -> Facts | Refusal:
        admin = self._admin
        if admin is None:
            detail = "the tenant has no admin_credentials to read the org's roles and change its OAuth client with"
            return Refusal(RefusalReason.NO_ADMIN_CREDENTIALS, detail)
        try:
            roles = await admin.all_roles()
            model, _ = await admin.get_oauth_client(self._client_id)
            home = await admin.home_division()
            me = await admin.tokens_me()
        except (errors.RemoteError, tokenbox.TokenUnavailableError) as exc:
            detail = f"the admin identity could not read the org's roles and OAuth client: {exc}"
            return Refusal(RefusalReason.NO_ADMIN_CREDENTIALS, detail)
        held = me.oauth_client.role_divisions if me.oauth_client is not None else ()
        facts_roles = (permissions.role_from_json(item) for item in roles)
        return Facts(
            roles=tuple(role for role in facts_roles if role is not None),
            client_role_divisions=tuple(RoleDivision(e.role_id, e.division_id) for e in model.role_divisions),
            client_scopes=model.scope,
            home_division_id=str(home.get("id", "")),
            admin_role_ids=frozenset(entry.role_id for entry in held),
        )
