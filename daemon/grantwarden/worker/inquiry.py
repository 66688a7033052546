"""The facts a finding needs beyond the probes: the client's state, the trust member, who changed what.

Three questions, each asked only when a cycle's outcome raises it, and with the tenant's admin
identity (of the tenant's org) where the platform requires one:

- a rejected client (token endpoint ``invalid_client``, or a fresh token refused with 401):
  ``GET /api/v2/oauth/clients/{id}`` says whether it is ``disabled``, ``inactive``, deleted or
  unknown here (platform.md §12); asked once per cycle while it lasts, never for a healthy tenant;
- a trust member lacking a trustor role: who signed in (``GET /api/v2/users/me``), which trustor
  roles it holds (``GET /api/v2/orgauthorization/trustees/{trustee}/users/{user}/roles``) or, not a
  member by name, the trust's groups, and which role would grant what is missing (platform.md
  platform.md §13); asked again only when what is missing changes;
- a probe that passed and now fails for a permission: the realtime audit query for the client (or
  the trust) says who changed it, when and how (platform.md §11); one query per regression, kept
  until the probe passes again. A refusal (403) names the permission that would allow it.

Nothing here decides or acts: ``policy.trust``, ``policy.audits`` and ``diagnosis`` word the
findings. Lines: ``audit_change_found``, ``audit_query_refused``. Called by the tenant's cycle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import audits, catalog, labels, permissions, trust
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.forbidden import Verdict
from grantwarden.remote import errors
from grantwarden.worker import api, probing, tokenbox
from grantwarden.worker import status as health

_LOG = structlog.get_logger("grantwarden.tenant")
_FAILED = (errors.RemoteError, tokenbox.TokenUnavailableError)
REGRESSIONS = frozenset(
    {
        labels.Outcome.MISSING_PERMISSION,
        labels.Outcome.MISSING_DIVISION_PERMISSION,
        labels.Outcome.MISSING_TRUSTOR_PERMISSION,
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class Evidence:
    """What ``diagnosis.diagnose`` gets besides the probes (``client_state``, ``member``, ``changes``)."""

    client_state: labels.ClientState | None = None
    member: trust.Member | None = None
    changes: Mapping[str, str] = dataclasses.field(default_factory=dict)  # probe → who changed what


NOTHING = Evidence()


def needed(observed: probing.Pass) -> bool:
    """Whether a pass raises any question: a token problem or a probe that did not pass."""
    return observed.token_problem is not None or any(
        v.outcome is not labels.Outcome.OK for v in observed.verdicts.values()
    )


class Inquirer:
    __slots__ = (
        "_admin",
        "_allow_roles",
        "_api",
        "_changes",
        "_clock",
        "_member",
        "_missing",
        "_status",
        "_tenant",
        "evidence",
    )

    def __init__(
        self,
        *,
        tenant: settings.Tenant,
        allow_roles: Sequence[str],
        api: api.TenantApi,
        admin: api.TenantApi | None,
        status: health.TenantStatus,
        clock: clock_mod.Clock,
    ) -> None:
        """``tenant`` and ``allow_roles`` (the blueprint's, named first among covering roles) are the
        configuration's own objects, held, not copied; ``status``: read for each probe's previous
        record, before this cycle's are written."""
        self._tenant = tenant
        self._allow_roles = allow_roles
        self._api = api
        self._admin = admin
        self._status = status
        self._clock = clock
        self._changes: dict[str, str] | None = None  # per regressed probe, until it passes again
        self._member: trust.Member | None = None
        self._missing: frozenset[str] = frozenset()  # what ``_member`` was read for
        self.evidence = NOTHING  # this cycle's, for the diagnosis after a re-grant too

    async def look(self, observed: probing.Pass) -> Evidence:
        """This cycle's evidence (``evidence``); nothing is asked of a tenant whose probes all pass."""
        if not needed(observed) and not self._changes:
            self.evidence = NOTHING
            return NOTHING
        self.evidence = Evidence(
            client_state=await self._client_state(observed),
            member=await self._trust_member(observed.verdicts),
            changes=await self._changes_of(observed.verdicts),
        )
        return self.evidence

    @property
    def _home_org_id(self) -> str | None:
        trust = self._tenant.credentials.trust
        return trust.home_org_id if trust is not None else None

    @property
    def _admin_client_id(self) -> str | None:
        admin = self._tenant.admin_credentials
        return admin.client_id if admin is not None else None

    async def _client_state(self, observed: probing.Pass) -> labels.ClientState | None:
        token = observed.verdicts.get(catalog.TOKEN)
        rejected = observed.token_problem is token_policy.TokenProblem.INVALID_CLIENT or (
            token is not None and token.outcome is labels.Outcome.UNAUTHORIZED
        )
        # Through a trust the client is the trustee org's: the admin identity of this org cannot see it.
        if not rejected or self._admin is None or self._home_org_id is not None:
            return None
        try:
            model, _ = await self._admin.get_oauth_client(self._tenant.credentials.client_id)
        except errors.NotFound as exc:
            return labels.ClientState.NOT_FOUND if exc.reply.facts.code == "client.not.found" else None
        except _FAILED:
            return None
        try:
            return labels.ClientState(model.state or "active")
        except ValueError:
            return None

    async def _trust_member(self, verdicts: Mapping[str, Verdict]) -> trust.Member | None:
        lacking = [v for v in verdicts.values() if v.outcome is labels.Outcome.MISSING_TRUSTOR_PERMISSION]
        home = self._home_org_id
        if not lacking or home is None:
            self._member, self._missing = None, frozenset()
            return None
        missing = frozenset(p for v in lacking for p in v.permissions)
        if self._member is None or missing != self._missing:
            requirement = lacking[0].requirement or permissions.Requirement.ALL
            self._member, self._missing = await self._read_member(home, missing, requirement), missing
        return self._member

    async def _read_member(
        self, home: str, missing: frozenset[str], requirement: permissions.Requirement
    ) -> trust.Member:
        member = trust.Member(trustor_org_id=self._tenant.org_id, trustee_org_id=home)
        try:
            user = await self._api.users_me()
            member = dataclasses.replace(member, user_id=user.id, user_name=user.name)
        except _FAILED:
            pass
        admin = self._admin
        if admin is None:
            unread = (
                f"the tenant has no admin_credentials; an identity of org {self._tenant.org_id} holding "
                f"{trust.USER_VIEW} (scope {trust.SCOPE}) would let it read the member's trustor roles"
            )
            return dataclasses.replace(member, unread=unread)
        if member.user_id is not None:
            member = await self._member_roles(admin, member, home)
        return dataclasses.replace(member, covering=await self._covering(admin, missing, requirement, member))

    async def _member_roles(self, admin: api.TenantApi, member: trust.Member, home: str) -> trust.Member:
        assert member.user_id is not None
        try:
            found = await admin.trustee_user_roles(home, member.user_id)
        except errors.NotFound:
            try:  # not a member by name: in through a group, if at all
                return dataclasses.replace(member, groups=tuple(await admin.trustee_groups(home)))
            except _FAILED as exc:
                return dataclasses.replace(member, unread=self._refused(exc, trust.GROUP_VIEW))
        except _FAILED as exc:
            return dataclasses.replace(member, unread=self._refused(exc, trust.USER_VIEW))
        return dataclasses.replace(member, roles=tuple(role.name or role.id for role in found.roles))

    async def _covering(
        self, admin: api.TenantApi, missing: frozenset[str], requirement: permissions.Requirement, member: trust.Member
    ) -> tuple[str, ...]:
        if not missing:
            return ()
        try:
            raw = await admin.all_roles()
        except _FAILED:
            return ()
        roles = [role for role in map(permissions.role_from_json, raw) if role is not None]
        prefer = self._allow_roles
        return trust.covering(roles, missing, requirement, held=member.roles or (), prefer=prefer)

    def _refused(self, exc: BaseException, permission: str) -> str:
        admin = f" (OAuth client {self._admin_client_id})" if self._admin_client_id else ""
        reply = getattr(exc, "reply", None)
        said = f": {reply.facts.code or reply.status}" if isinstance(reply, errors.Reply) else ""
        if isinstance(exc, errors.Forbidden):
            return f"its admin identity{admin} was refused{said}; {permission} would allow it"
        return f"its admin identity{admin} could not read it ({type(exc).__name__}{said})"

    async def _changes_of(self, verdicts: Mapping[str, Verdict]) -> Mapping[str, str]:
        changes = self._changes
        if changes:  # a probe that passes again (or is gone) no longer needs its story
            for name in [n for n in changes if (v := verdicts.get(n)) is None or v.outcome is labels.Outcome.OK]:
                del changes[name]
        previous = self._status.probes
        regressed = [
            name
            for name, verdict in verdicts.items()
            if verdict.outcome in REGRESSIONS
            and (before := previous.get(name)) is not None
            and before.outcome is labels.Outcome.OK
        ]
        if regressed:
            since = min(previous[name].at for name in regressed)
            story = await self._story(regressed, since)
            changes = self._changes = self._changes or {}
            changes.update(dict.fromkeys(regressed, story))
        return dict(changes) if changes else {}

    async def _story(self, probes: Sequence[str], since: float) -> str:
        """Who changed the client (or the trust) since ``since``, from the audit trail: one query."""
        org_id, home = self._tenant.org_id, self._home_org_id
        entity_type, entity_id = (
            (audits.TRUST, home) if home else (audits.OAUTH_CLIENT, self._tenant.credentials.client_id)
        )
        needs = f"{audits.PERMISSION} (scope {audits.SCOPE})"
        admin = self._admin
        if admin is None:
            return (
                f"who changed it is in org {org_id}'s audit trail: admin_credentials holding {needs} "
                "would let grantwarden name the change"
            )
        body = audits.query(entity_type=entity_type, entity_id=entity_id, now=self._clock.now())
        try:
            entries = await admin.audit_query(body)
        except _FAILED as exc:
            reason = self._refused(exc, needs)
            _LOG.warning("audit_query_refused", probes=list(probes), reason=reason)
            return f"the audit trail could not be read: {reason}"
        change = audits.culprit(audits.parse(entries), since=since)
        if change is None:
            return f"the audit trail shows no change to {entity_type} {entity_id} since the probe last passed"
        names = await self._role_names(admin) if change.properties else {}
        _LOG.info(
            "audit_change_found",
            probes=list(probes),
            entity_type=change.entity_type,
            entity_id=change.entity_id,
            action=change.action,
            user_id=change.user_id,
            by_client_id=change.client_id,
            at=change.when,
        )
        return audits.describe(change, names=names, org_id=org_id)

    async def _role_names(self, admin: api.TenantApi) -> dict[str, str]:
        try:
            raw = await admin.all_roles()
        except _FAILED:
            return {}
        return {role.id: role.name for role in map(permissions.role_from_json, raw) if role is not None}
