"""In-path mode end to end: the official Python SDK, pointed only at grantwarden's proxy.

The daemon (with a ``proxy`` section and no hand-off) and the simulator share one ManualClock;
the SDK (``purecloudplatformclientv2``) gets ``host = http://127.0.0.1:PORT/t/TENANT`` and the
proxy's token as a default header, no access token of its own, and runs in a worker thread (it
is synchronous). grantwarden's own probes do not cover the messaging API, so only the proxied
traffic tells. Covers: a call reaches the simulator with the tenant's own token (the request log
names the tenant's client) and deserialises as the SDK's model; a path outside the blueprint's
proxy_allow is the SDK's ApiException 403 ``not_allowed`` and never reaches the platform; after a
role is removed in the simulator, the platform's 403 comes through to the SDK unchanged with
``X-Grantwarden-Outcome: missing_permission``, a fix naming the permission, and the refusal shown
in /status beside the probes; the tenant's access object (the one the hand-off would answer
from) wakes its loop, which diagnoses the operation, re-grants the allow-listed role with the
admin identity and verifies it by repeating that GET, and the SDK's next call through the proxy
passes (design.md §2.9, the twin of ``test_handoff_sdk.py``); a wrong-org tenant is 503
``wrong_org``, its token never handed out.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import PureCloudPlatformClientV2 as gc  # noqa: N813 - the SDK's module name is long and CamelCase
import pytest
from PureCloudPlatformClientV2.rest import ApiException
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden.base.clock import ManualClock
from grantwarden.config import loading as configfile
from grantwarden.simulator import control, emitting, testing
from grantwarden.worker import statusjson
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon

pytestmark = pytest.mark.e2e
PROXY_TOKEN = "gw-e2e-proxy-token-1f7c"
ALLOW = [
    {"method": "GET", "path": "/api/v2/conversations/messaging/**"},
    {"method": "GET", "path": "/api/v2/organizations/me"},
]


def proxied_config(sim: testing.Simulator, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> configfile.Loaded:
    """The demo's acme and acme-apac (wrong org), the proxy on a free port, messaging allow-listed."""
    raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(state_dir))
    raw["tenants"] = [
        {k: v for k, v in t.items() if k != "parent"} for t in raw["tenants"] if t["name"] in ("acme", "acme-apac")
    ]
    for blueprint in raw["blueprints"].values():
        blueprint["proxy_allow"] = ALLOW
        blueprint["probes"] = ["token", "organization"]  # the messaging API only through the proxy
        blueprint["grants"] = {"roles": ["Messaging Viewer", "Web Deployments Viewer"], "division": "home"}
    raw.setdefault("defaults", {})["probe_interval"] = "300s"
    raw["server"] = {"listen": "127.0.0.1:0"}
    raw["proxy"] = {"listen": "127.0.0.1:0", "bearer_token": {"env": "GW_PROXY_TOKEN"}}
    for name, value in {**env, "GW_PROXY_TOKEN": PROXY_TOKEN}.items():
        monkeypatch.setenv(name, value)
    loaded = configfile.load_mapping(raw, source="proxy-e2e.yaml", environ={})
    configfile.resolve_secrets(loaded, environ=os.environ)
    return loaded


def api_client(proxy_url: str, tenant: str) -> gc.ApiClient:
    """What an integration writes: the base path is the proxy's tenant prefix, the proxy token a
    default header; no credentials of its own (``PureCloudPlatformClientV2.configuration.host``
    works the same for the process-wide default client)."""
    return gc.ApiClient(host=f"{proxy_url}/t/{tenant}", header_name="X-Grantwarden-Token", header_value=PROXY_TOKEN)


async def refused(call: Any) -> ApiException:
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(call)
    return caught.value


async def test_the_sdk_works_through_the_proxy_alone_and_a_refusal_is_regranted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        acme = sim.tenant("acme")
        async with running_daemon(proxied_config(sim, monkeypatch, tmp_path), clock) as run:
            await clock.advance(301)  # every tenant's first cycle, identity check included
            assert run.daemon.proxied is not None
            proxy_url = run.daemon.proxied.where
            assert proxy_url is not None
            conversations = gc.ConversationsApi(api_client(proxy_url, "acme"))
            listing = await asyncio.to_thread(conversations.get_conversations_messaging_integrations, page_size=1)
            assert isinstance(listing, gc.MessagingIntegrationEntityListing)
            last = sim.requests(kind="api")[-1]
            assert last["path"].startswith("/api/v2/conversations/messaging/integrations")
            assert last["client_id"] == acme.client_id, "the tenant's own token went in"

            api_calls = len(sim.requests(kind="api"))
            oauth = gc.OAuthApi(api_client(proxy_url, "acme"))
            outside = await refused(oauth.get_oauth_clients)
            assert outside.status == 403
            assert outside.headers["X-Grantwarden-Outcome"] == "not_allowed"
            assert (
                json.loads(outside.body)["fix"] == "add it to blueprints.messaging-core.proxy_allow in proxy-e2e.yaml"
            )
            assert len(sim.requests(kind="api")) == api_calls, "never reached the platform"

            control.remove_role(sim.world, acme.client_id, "Messaging Viewer")
            with capture_logs(processors=[merge_contextvars]) as logs:
                denied = await refused(lambda: conversations.get_conversations_messaging_integrations(page_size=1))
                for _ in range(12):  # the woken cycle re-grants; the 5 s propagation is waited out
                    await clock.advance(5)
                again = await asyncio.to_thread(conversations.get_conversations_messaging_integrations, page_size=1)
            assert denied.status == 403
            assert json.loads(denied.body)["code"] == "missing.permissions", "the platform's own body"
            assert denied.headers["X-Grantwarden-Outcome"] == "missing_permission"
            assert "messaging:integration:view" in denied.headers["X-Grantwarden-Fix"]
            assert isinstance(again, gc.MessagingIntegrationEntityListing), "re-granted: the next call passes"
            events = [e["event"] for e in logs if e["event"].startswith(("regrant_", "proxy_refused"))]
            assert events == ["proxy_refused", "regrant_planned", "regrant_applied", "regrant_verified"]
            verified = next(e for e in logs if e["event"] == "regrant_verified")
            assert verified["probes"] == ["traffic:get-conversations-messaging-integrations"]
            shown = statusjson.tenant_json(run.daemon.statuses()["acme"])["traffic"]
            assert [(t["operation"], t["outcome"], t["passed_at"] is not None) for t in shown] == [
                ("GET /api/v2/conversations/messaging/integrations", "missing_permission", True),
                ("GET /api/v2/oauth/clients", "not_allowed", False),
            ]

            apac = gc.OrganizationApi(api_client(proxy_url, "acme-apac"))
            before = len(sim.requests(kind="api"))
            wrong = await refused(apac.get_organizations_me)
            assert wrong.status == 503
            assert wrong.headers["X-Grantwarden-Outcome"] == "wrong_org"
            assert len(sim.requests(kind="api")) == before
            for answer in (outside, denied, wrong):
                assert PROXY_TOKEN not in str(answer.headers)
