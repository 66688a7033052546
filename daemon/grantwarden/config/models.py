"""The configuration models (design.md §2.2): what a grantwarden YAML file may say.

These pydantic models are the single description of the file: the loader (``loading``)
validates YAML and ``GRANTWARDEN_`` environment overrides against them, and
``grantwarden.schema.json`` (package data) is generated from them. Durations are plain seconds
once parsed (``values``); secrets stay references until a token is minted. Tenant inheritance
(``parent``) is resolved by the loader before a tenant is validated, so a ``Tenant`` here is
complete. A check that compares two settings is a field validator on the later one with an
error kind the loader knows (it reports the problem where the settings were written), so it
runs even when another setting of the same model is wrong: a file's problems show in one pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pydantic
import pydantic_core
import pydantic_settings

from grantwarden.config import handoffsettings, proxysettings, values
from grantwarden.config.secretrefs import Secret
from grantwarden.policy import catalog, labels, regions


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Model):
    listen: str = pydantic.Field(default="0.0.0.0:9464", pattern=r"^[^\s:]*:\d{1,5}$")
    """HOST:PORT of the one HTTP listener (health, readiness, status, metrics); port 0 picks one."""
    admin_token: Secret | None = None
    """Bearer token for POST endpoints; without it they answer 404."""


class LoggingSettings(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class ShardingSettings(_Model):
    index: int | None = pydantic.Field(default=None, ge=0)
    """This replica's shard; unset: from GRANTWARDEN_SHARDING__INDEX or a StatefulSet pod ordinal."""
    count: int = pydantic.Field(default=1, ge=1, le=1024)
    peer_url: str | None = None
    """The hand-off URL of a shard, ``{index}`` standing for its number: a replica asked for a
    tenant another shard owns redirects there (307); without it, it answers 421 naming the shard."""

    @pydantic.field_validator("peer_url")
    @classmethod
    def _peer_template(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s{}/]+(/[^\s{}]*)?", value.replace("{index}", "0")):
            raise ValueError(f"peer_url {value!r} is not an http(s) URL")
        if value is not None and "{index}" not in value:
            raise ValueError("peer_url must contain {index}, which stands for the owning shard's number")
        return value

    @pydantic.model_validator(mode="after")
    def _index_in_range(self) -> ShardingSettings:
        if self.index is not None and self.index >= self.count:
            raise ValueError(f"index {self.index} must be below count {self.count}")
        return self


class MintingSettings(_Model):
    rate_per_second: float = pydantic.Field(default=20.0, gt=0)
    """Token requests per second across all tenants of this replica (cold starts stay gentle)."""
    burst: int = pydantic.Field(default=1, ge=1)
    """Token requests that may go out at once after a quiet spell; 1 keeps every second at the rate."""


class RefreshSettings(_Model):
    at_fraction: float = pydantic.Field(default=0.75, gt=0, lt=1)
    """Refresh at this fraction of the token's lifetime (expires_in at receipt)."""
    jitter_fraction: float = pydantic.Field(default=0.1, ge=0, lt=1, validate_default=True)
    """Minus a random share of the lifetime up to this fraction, so tenants spread out."""
    max_lead: values.Duration = pydantic.Field(default=300.0, gt=0)
    """Seconds: refresh at most this long before expiry, plus a random share up to as much again
    (a 24 h token: 5-10 minutes before expiry). Caps both fractions for long-lived tokens."""

    _jitter_below_fraction = values.below("jitter_not_below_fraction", "jitter_fraction", "at_fraction")


class RegrantSettings(_Model):
    mode: values.Choice[labels.RegrantMode] = labels.RegrantMode.REMEDIATE
    dry_run: bool = False
    """Plan and log re-grants but change nothing."""
    max_per_hour: int = pydantic.Field(default=4, ge=0, le=60)
    settle_timeout: values.Duration = 300.0
    """Seconds to wait for a re-grant to propagate before calling it failed (platform: minutes)."""


class Defaults(_Model):
    probe_interval: values.ProbeInterval = 60.0
    probe_timeout: values.Duration = pydantic.Field(default=10.0, validate_default=True)
    probe_concurrency: int = pydantic.Field(default=4, ge=1, le=32)
    refresh: RefreshSettings = RefreshSettings()
    regrant: RegrantSettings = RegrantSettings()

    _timeout_below_interval = values.below("timeout_not_below_interval", "probe_timeout", "probe_interval", unit="s")


class Requires(_Model):
    all: list[str] | None = None
    any: list[str] | None = None

    @pydantic.model_validator(mode="after")
    def _one_kind(self) -> Requires:
        if (self.all is None) == (self.any is None):
            raise ValueError("requires is {all: [...]} or {any: [...]}")
        return self


class CustomProbe(_Model):
    name: str = pydantic.Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    path: str = pydantic.Field(pattern=r"^/api/v2/\S*$")
    method: Literal["GET"] = "GET"
    requires: Requires | None = None
    scopes: list[str] = []

    def to_def(self) -> catalog.ProbeDef:
        kind: catalog.Requirement = "any" if self.requires and self.requires.any is not None else "all"
        perms = (self.requires.any if kind == "any" else self.requires.all) if self.requires else None
        return catalog.ProbeDef(self.name, self.path, self.method, kind, tuple(perms or ()), tuple(self.scopes))


class Grants(_Model):
    roles: list[str] = []
    """Role NAMES a re-grant may add, resolved per org: the allow-list."""
    division: str = "home"
    """home | "*" | a division id: where added roles apply."""
    scopes: list[str] = []
    """Scopes a re-grant may add to a user-grant client."""
    managed_by: values.Choice[labels.ManagedBy] = labels.ManagedBy.GRANTWARDEN
    """grantwarden | terraform: a client managed by Terraform (CX as Code) is never edited; its
    findings and ``plan --format terraform`` say which roles and scopes to add to its resource."""


class TenantGrants(_Model):
    managed_by: values.Choice[labels.ManagedBy] | None = None
    """Overrides the blueprint's grants.managed_by for this tenant's OAuth client (not inherited:
    each org's client is its own)."""


class Blueprint(_Model):
    probes: list[str | CustomProbe] = list(catalog.DEFAULT_PROBES)
    grants: Grants = Grants()
    proxy_allow: list[proxysettings.ProxyRule] = []
    """Requests the in-path proxy forwards for this blueprint's tenants; none when empty."""

    @pydantic.field_validator("probes")
    @classmethod
    def _known_unique(cls, probes: list[str | CustomProbe]) -> list[str | CustomProbe]:
        seen: set[str] = set()
        for probe in probes:
            name = probe if isinstance(probe, str) else probe.name
            if isinstance(probe, str) and name not in catalog.BUILTIN:
                raise ValueError(f"unknown probe {name!r}; built-in probes: {', '.join(catalog.BUILTIN)}")
            if isinstance(probe, CustomProbe) and name in catalog.BUILTIN:
                raise ValueError(f"custom probe {name!r} has the name of a built-in probe")
            if name in seen:
                raise ValueError(f"probe {name!r} is listed twice")
            seen.add(name)
        return probes

    def probe_defs(self) -> tuple[catalog.ProbeDef, ...]:
        return tuple(catalog.BUILTIN[p] if isinstance(p, str) else p.to_def() for p in self.probes)


class Trust(_Model):
    home_org_id: str = pydantic.Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    """The trustee org: the org the signing-in user (and the OAuth client) belong to; the token
    then acts in the tenant's org_id, the trustor (platform.md §13)."""


class Credentials(_Model):
    grant: values.Choice[labels.GrantType] = labels.GrantType.CLIENT_CREDENTIALS
    client_id: str = pydantic.Field(min_length=1, max_length=200)
    client_secret: Secret
    redirect_uri: str | None = pydantic.Field(default=None, pattern=r"^https?://\S+$", validate_default=True)
    """Authorization code only: the loopback redirect registered on the client."""
    scopes: list[str] = []
    """Authorization code only: the scopes requested at authorization."""
    trust: Trust | None = None
    """Authorization code only: the tenant acts in its org through an org trust, as a user of
    ``home_org_id`` with that org's OAuth client; sign-ins ask with ``target=<org_id>``."""

    @pydantic.field_validator("trust")
    @classmethod
    def _trust_needs_user_grant(cls, value: Trust | None, info: pydantic.ValidationInfo) -> Trust | None:
        # platform.md §13: trust members are users and groups; client credentials never act in a trustor org.
        if value is not None and info.data.get("grant") is not labels.GrantType.AUTHORIZATION_CODE:
            raise ValueError("trust needs grant authorization_code: only a trusted user acts in a trustor org")
        return value

    @pydantic.field_validator("redirect_uri")
    @classmethod
    def _code_grant_needs_redirect(cls, value: str | None, info: pydantic.ValidationInfo) -> str | None:
        if info.data.get("grant") is labels.GrantType.AUTHORIZATION_CODE and not value:
            raise ValueError("grant authorization_code needs redirect_uri")
        return value


class AdminCredentials(_Model):
    client_id: str = pydantic.Field(min_length=1, max_length=200)
    client_secret: Secret


TENANT_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_HOSTS = (
    "give region for Genesys Cloud's own hosts, or api_base_url and login_base_url for another host "
    "(the simulator, a proxy), not both"
)


class Tenant(_Model):
    """One org, after inheritance: everything grantwarden needs to keep it authorised."""

    name: str = pydantic.Field(pattern=TENANT_NAME)
    parent: str | None = None
    org_id: str = pydantic.Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    region: str | None = None
    api_base_url: str | None = pydantic.Field(default=None, pattern=r"^https?://\S+$")
    login_base_url: str | None = pydantic.Field(default=None, pattern=r"^https?://\S+$", validate_default=True)
    blueprint: str
    credentials: Credentials
    admin_credentials: AdminCredentials | None = None
    grants: TenantGrants | None = None
    probe_interval: values.ProbeInterval
    probe_timeout: values.Duration
    probe_concurrency: int = pydantic.Field(ge=1, le=32)
    refresh: RefreshSettings
    regrant: RegrantSettings

    _timeout_below_interval = values.below("timeout_not_below_interval", "probe_timeout", "probe_interval", unit="s")

    @pydantic.field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value not in regions.API_HOSTS:
            raise ValueError(f"unknown region {value!r}; known: {', '.join(regions.API_HOSTS)}")
        return value

    @pydantic.field_validator("login_base_url")
    @classmethod
    def _hosts(cls, value: str | None, info: pydantic.ValidationInfo) -> str | None:
        """One way to the hosts (error ``tenant_hosts``): checked once the three are read, with
        ``login_base_url``, the last; nothing to say when one of them is itself wrong."""
        if not {"region", "api_base_url"} <= info.data.keys():
            return value
        region, urls = info.data["region"], [info.data["api_base_url"], value]
        given = [name for name, url in zip(("api_base_url", "login_base_url"), urls, strict=True) if url]
        if region is not None and given:
            raise pydantic_core.PydanticCustomError(
                "tenant_hosts", f"region is given with {' and '.join(given)}: {_HOSTS}"
            )
        if region is None and len(given) < 2:
            raise pydantic_core.PydanticCustomError(
                "tenant_hosts", "give region, or both api_base_url and login_base_url"
            )
        return value

    @pydantic.field_validator("credentials")
    @classmethod
    def _trust_is_another_org(cls, value: Credentials, info: pydantic.ValidationInfo) -> Credentials:
        trust = value.trust
        if trust is not None and trust.home_org_id == info.data.get("org_id"):
            raise ValueError("trust.home_org_id names the tenant's own org_id: a trust pairs two orgs")
        return value

    def managed_by(self, blueprint: Blueprint) -> labels.ManagedBy:
        """Who edits this tenant's OAuth client: its own grants.managed_by, else its blueprint's."""
        own = self.grants.managed_by if self.grants is not None else None
        return own or blueprint.grants.managed_by

    @property
    def api_url(self) -> str:
        return (self.api_base_url or regions.api_base_url(self.region or "")).rstrip("/")

    @property
    def login_url(self) -> str:
        return (self.login_base_url or regions.login_base_url(self.region or "")).rstrip("/")


class Settings(pydantic_settings.BaseSettings):
    """The whole file. Environment variables ``GRANTWARDEN_X__Y`` override ``x.y``."""

    model_config = pydantic_settings.SettingsConfigDict(
        env_prefix="GRANTWARDEN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    server: ServerSettings = ServerSettings()
    proxy: proxysettings.ProxySettings | None = None
    """The in-path proxy; off without this section."""
    logging: LoggingSettings = LoggingSettings()
    sharding: ShardingSettings = ShardingSettings()
    minting: MintingSettings = MintingSettings()
    defaults: Defaults = Defaults()
    blueprints: dict[str, Blueprint] = {"default": Blueprint()}
    tenants: list[Tenant] = []
    handoff: handoffsettings.HandoffSettings | None = None
    """Off unless configured: no listener, no files, no per-tenant cost."""
    state_dir: Path = Path("/var/lib/grantwarden")
    """Per-tenant state (rotated refresh tokens), one 0600 file per tenant."""
    _by_name: tuple[list[Tenant], dict[str, Tenant]] = pydantic.PrivateAttr(default=([], {}))
    """``tenants`` by name, with the list it was built from (see ``tenant``)."""
    _by_client: tuple[list[Tenant], dict[str, tuple[str, ...]]] | None = pydantic.PrivateAttr(default=None)
    """Tenant names by ``credentials.client_id``, built on first use (see ``sharing_client_with``)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[pydantic_settings.BaseSettings],
        init_settings: pydantic_settings.PydanticBaseSettingsSource,
        env_settings: pydantic_settings.PydanticBaseSettingsSource,
        dotenv_settings: pydantic_settings.PydanticBaseSettingsSource,
        file_secret_settings: pydantic_settings.PydanticBaseSettingsSource,
    ) -> tuple[pydantic_settings.PydanticBaseSettingsSource, ...]:
        # The loader merges the environment into the YAML itself, before tenant inheritance,
        # so that GRANTWARDEN_DEFAULTS__* reaches every tenant; here only its result counts.
        return (init_settings,)

    @pydantic.model_validator(mode="after")
    def _references(self) -> Settings:
        names: set[str] = set()
        for tenant in self.tenants:
            if tenant.name in names:
                raise ValueError(f"tenant name {tenant.name!r} is used twice")
            names.add(tenant.name)
            if tenant.blueprint not in self.blueprints:
                raise ValueError(f"tenant {tenant.name!r} names unknown blueprint {tenant.blueprint!r}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_name = (self.tenants, {t.name: t for t in self.tenants})

    def tenant(self, name: str) -> Tenant | None:
        """The tenant called ``name``: one dict look-up, since start-up asks once per tenant (a scan
        each time made 10,000 tenants cost 5 s). A ``model_copy`` with other tenants re-indexes."""
        tenants, by_name = self._by_name
        if tenants is not self.tenants:
            self._by_name = tenants, by_name = self.tenants, {t.name: t for t in self.tenants}
        return by_name.get(name)

    def sharing_client_with(self, name: str) -> tuple[str, ...]:
        """The other tenants configured with tenant ``name``'s OAuth client (a fix never advises a
        new secret they would lose). The index is built once per settings object, when first asked."""
        tenant = self.tenant(name)
        if tenant is None:
            return ()
        if self._by_client is None or self._by_client[0] is not self.tenants:
            index: dict[str, list[str]] = {}
            for each in self.tenants:
                index.setdefault(each.credentials.client_id, []).append(each.name)
            self._by_client = self.tenants, {client: tuple(names) for client, names in index.items()}
        others = self._by_client[1].get(tenant.credentials.client_id, ())
        return tuple(other for other in others if other != name)
