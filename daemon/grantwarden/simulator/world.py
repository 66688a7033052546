"""The simulated platform's whole state, and the one clock and RNG it runs on.

A ``World`` is what the aiohttp routes, the control API and in-process tests share: orgs with
their roles, divisions, users, groups and clients; org trusts; tokens; the audit trail; faults;
rate windows; the request log; and the platform-wide knobs (``Settings``). It holds data and
small lookups; the rules live in the modules that use it (``guarding``, ``oauth_routes``,
``client_updates``, ``trust``, ``audit``, ``control``). All time comes from the injected
``Clock`` so that one ``ManualClock`` drives daemon and platform alike.
"""

from __future__ import annotations

import dataclasses
import random

from grantwarden.base.clock import Clock
from grantwarden.simulator import audit, faults, listings, model, ratelimits, requestlog, tenancy, tokens, trust

# Region keys the platform knows (platform.md §1.1); orgs live in exactly one of them.
_REGION_KEYS = """
us-east-1 eu-west-1 ap-southeast-2 ap-northeast-1 eu-central-1 us-west-2 ca-central-1 ap-northeast-2
eu-west-2 ap-south-1 us-east-2 sa-east-1 me-central-1 ap-northeast-3 eu-central-2 mx-central-1
ap-southeast-1 eusc-de-east-1
"""
REGIONS: frozenset[str] = frozenset(_REGION_KEYS.split())


ADMIN_NAME = "Organization Administrator"


def admin_id(org: model.Org) -> str:
    """The org's built-in administrator: creator of its estate, default UI person of the knobs."""
    return model.stable_id(org.id, "user", "admin")


@dataclasses.dataclass(slots=True)
class Settings:
    """Platform-wide knobs; orgs may override the first four (``model.Org``)."""

    propagation_delay_seconds: float = 0.0
    existing_tokens_see_grants: bool = True
    token_requests_per_minute: int = ratelimits.DEFAULT_TOKEN_REQUESTS_PER_MINUTE
    mints_per_client_per_minute: int = ratelimits.DEFAULT_MINTS_PER_CLIENT_PER_MINUTE
    mints_per_second: int = ratelimits.DEFAULT_MINTS_PER_SECOND
    refresh_grace_seconds: float = 0.0
    code_lifetime_seconds: float = 60.0
    deny_consent: bool = False


class World:
    def __init__(
        self,
        *,
        clock: Clock,
        seed: int = 0,
        default_region: str = "us-east-1",
        settings: Settings | None = None,
        request_log_size: int = requestlog.DEFAULT_SIZE,
    ) -> None:
        if default_region not in REGIONS:
            raise ValueError(f"unknown region {default_region!r}")
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self.default_region = default_region
        self.settings = settings or Settings()
        self.orgs: dict[str, model.Org] = {}
        self.clients: dict[str, model.OAuthClient] = {}
        self.tokens = tokens.TokenStore()
        self.faults = faults.Table()
        self.requests = requestlog.RequestLog(request_log_size)
        self.token_windows = ratelimits.Windows(60.0)
        self.client_mint_windows = ratelimits.Windows(60.0)
        self.global_mint_windows = ratelimits.Windows(1.0)
        self.listings = listings.Cache()
        self.tenants: list[tenancy.TenantSpec] = []
        self.regions: set[str] = {default_region}  # served under /regions/{region}
        self.blueprint = tenancy.Blueprint()
        self.trusts = trust.Registry()
        self.audits = audit.Log()
        self.ui_users: dict[str, str] = {}  # org id -> the user whose UI changes the knobs stand for
        self.remote_address: str | None = None  # pretend every request comes from here (allow-list tests)

    # -- building -----------------------------------------------------------------------------

    def add_org(self, org: model.Org) -> model.Org:
        if org.id in self.orgs:
            raise ValueError(f"org {org.id} exists already")
        if org.region not in REGIONS:
            raise ValueError(f"org {org.id}: unknown region {org.region!r}")
        self.orgs[org.id] = org
        self.regions.add(org.region)
        return org

    def add_client(self, client: model.OAuthClient) -> model.OAuthClient:
        if client.org_id not in self.orgs:
            raise ValueError(f"client {client.id}: unknown org {client.org_id}")
        if client.id in self.clients:
            raise ValueError(f"client {client.id} exists already")
        self.clients[client.id] = client
        return client

    # -- lookups ------------------------------------------------------------------------------

    def org_clients(self, org_id: str) -> list[model.OAuthClient]:
        return [c for c in self.clients.values() if c.org_id == org_id]

    def propagation_delay(self, org: model.Org) -> float:
        delay = org.propagation_delay_seconds
        return self.settings.propagation_delay_seconds if delay is None else delay

    def tokens_see_grants(self, org: model.Org) -> bool:
        live = org.existing_tokens_see_grants
        return self.settings.existing_tokens_see_grants if live is None else live

    def ui_actor(self, org_id: str) -> audit.Actor:
        """The person in the UI behind a control knob's change in ``org_id`` (audit trail)."""
        org = self.orgs[org_id]
        person = org.users.get(self.ui_users.get(org_id) or admin_id(org))
        if person is None:
            return audit.Actor(org.id, admin_id(org), ADMIN_NAME, "", audit.UI_REMOTE_IP)
        return audit.Actor(person.org_id, person.id, person.name, "", audit.UI_REMOTE_IP)

    def token_budget(self, org: model.Org) -> int:
        budget = org.token_requests_per_minute
        return self.settings.token_requests_per_minute if budget is None else budget
