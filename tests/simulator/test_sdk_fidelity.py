"""Fidelity against the official SDK (``purecloudplatformclientv2``): its client, on loopback.

The sync SDK runs in a worker thread while the simulator serves on the test's loop. The SDK
derives the login host by replacing ``//api.`` with ``//login.``; a loopback base URL (or its
``/regions/{region}`` prefix) has no ``api.``, so login and API share the URL, as served.
Covers: client-credentials minting (and invalid_client at the wrong region), then TokensApi,
OrganizationApi, ConversationsApi, WebDeploymentsApi, RoutingApi, OAuthApi (get and put) and
AuthorizationApi (roles, permissions, home division): every response deserializes into the
SDK's models with the expected values and no enum the SDK does not know; every refusal is the
SDK's ApiException whose body carries the platform's ``code``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import PureCloudPlatformClientV2 as gc  # noqa: N813 - the SDK's module name is long and CamelCase
import pytest
from PureCloudPlatformClientV2.rest import ApiException

from grantwarden.simulator import control, testing

from .conftest import Api
from .sdkclient import Sdk, known_enums, refused, run

pytestmark = pytest.mark.e2e


@pytest.fixture
def sdk(platform: testing.Simulator) -> Iterator[Sdk]:
    handle = Sdk(platform)
    yield handle
    handle.close()


async def test_the_sdk_mints_and_reads_tokens_me(sdk: Sdk) -> None:
    acme = sdk.sim.tenant("acme")
    client = await run(lambda: sdk.login(acme.client_id))
    info = known_enums(await run(lambda: gc.TokensApi(client).get_tokens_me(preserve_idle_ttl=True)))
    assert isinstance(info, gc.TokenInfo)
    assert info.organization.id == acme.org_id
    assert info.o_auth_client.id == acme.client_id
    assert info.o_auth_client.authorized_grant_type == "CLIENT-CREDENTIALS"
    assert info.o_auth_client.organization.id == acme.org_id
    assert all(isinstance(rd, gc.RoleDivision) for rd in info.o_auth_client.role_divisions)


async def test_the_sdk_sees_invalid_client_at_the_wrong_regions_login_host(sdk: Sdk) -> None:
    eu = sdk.sim.tenant("acme-eu")
    status, body = await refused(lambda: sdk.login(eu.client_id))  # the root is us-east-1
    assert (status, body["error"], body["description"]) == (401, "invalid_client", "authentication failed")
    assert await run(lambda: sdk.login(eu.client_id, region="eu-west-1")) is not None


async def test_the_sdk_reads_the_organization(sdk: Sdk) -> None:
    acme = sdk.sim.tenant("acme")
    client = await run(lambda: sdk.login(acme.client_id))
    org = known_enums(await run(lambda: gc.OrganizationApi(client).get_organizations_me()))
    assert isinstance(org, gc.Organization)
    assert (org.id, org.third_party_org_name, org.state, org.product_platform) == (
        acme.org_id,
        "acme",
        "active",
        "GenesysCloud",
    )


async def test_the_sdk_reads_the_messaging_listings(sdk: Sdk) -> None:
    client = await run(lambda: sdk.login(sdk.sim.tenant("acme").client_id))
    conversations = gc.ConversationsApi(client)
    integrations = known_enums(await run(lambda: conversations.get_conversations_messaging_integrations(page_size=1)))
    assert isinstance(integrations, gc.MessagingIntegrationEntityListing)
    assert (integrations.page_size, integrations.total, integrations.page_count) == (1, 3, 3)
    first = integrations.entities[0]
    assert isinstance(first, gc.MessagingIntegration)
    assert (first.status, first.messenger_type) == ("Active", "webmessaging")
    assert first.date_created.year == 2023
    content = known_enums(await run(lambda: conversations.get_conversations_messaging_supportedcontent(page_size=1)))
    assert isinstance(content, gc.SupportedContentListing)
    assert content.entities[0].media_types.allow.inbound[0].type == "image/*"
    settings = known_enums(await run(conversations.get_conversations_messaging_settings))
    assert isinstance(settings, gc.MessagingConfigListing)
    assert settings.entities[0].name == "Default messaging setting"


async def test_the_sdk_reads_web_deployments_and_configurations(sdk: Sdk) -> None:
    client = await run(lambda: sdk.login(sdk.sim.tenant("acme").client_id))
    deployments = known_enums(await run(gc.WebDeploymentsApi(client).get_webdeployments_deployments))
    assert isinstance(deployments, gc.ExpandableWebDeploymentEntityListing)
    assert (deployments.total, deployments.entities[0].status) == (1, "Active")
    configurations = known_enums(await run(gc.WebDeploymentsApi(client).get_webdeployments_configurations))
    assert isinstance(configurations, gc.WebDeploymentConfigurationVersionEntityListing)
    assert configurations.entities[0].id == deployments.entities[0].configuration.id


async def test_the_sdk_reads_queues_and_surfaces_the_division_refusal(sdk: Sdk) -> None:
    acme = sdk.sim.tenant("acme")
    client = await run(lambda: sdk.login(acme.client_id))
    routing = gc.RoutingApi(client)
    queues = known_enums(await run(lambda: routing.get_routing_queues(page_size=1)))
    assert isinstance(queues, gc.QueueEntityListing)
    home = queues.entities[0]
    assert isinstance(home.division, gc.Division)
    assert isinstance(await run(lambda: routing.get_routing_queue(home.id)), gc.Queue)
    org = sdk.sim.world.orgs[acme.org_id]
    elsewhere = next(q for q in org.queues if q.division_id != org.home_division_id)
    status, body = await refused(lambda: routing.get_routing_queue(elsewhere.id))
    assert (status, body["code"]) == (403, "missing.division.permission")


async def test_the_sdk_reads_and_puts_an_oauth_client(sdk: Sdk) -> None:
    eu = sdk.sim.tenant("acme-eu")
    admin = await run(lambda: sdk.login(eu.admin_client_id or "", region="eu-west-1"))
    oauth = gc.OAuthApi(admin)
    current = known_enums(await run(lambda: oauth.get_oauth_client(eu.client_id)))
    assert isinstance(current, gc.OAuthClient)
    assert (current.secret, current.state, current.authorized_grant_type) == (None, "active", "CLIENT-CREDENTIALS")
    listing = known_enums(await run(oauth.get_oauth_clients))
    assert isinstance(listing, gc.OAuthClientEntityListing)
    viewer = (await run(lambda: gc.AuthorizationApi(admin).get_authorization_roles(name="Messaging Viewer"))).entities[
        0
    ]
    body = gc.OAuthClientRequest()
    body.name, body.authorized_grant_type = current.name, current.authorized_grant_type
    added = gc.RoleDivision()
    added.role_id, added.division_id = viewer.id, current.role_divisions[0].division_id
    body.role_divisions = [*current.role_divisions, added]
    updated = known_enums(await run(lambda: oauth.put_oauth_client(eu.client_id, body)))
    assert isinstance(updated, gc.OAuthClient)
    assert viewer.id in {rd.role_id for rd in updated.role_divisions}
    body.role_divisions = []
    status, refusal = await refused(lambda: oauth.put_oauth_client(eu.client_id, body))
    assert (status, refusal["code"]) == (400, "missing.client.roles")
    status, refusal = await refused(lambda: oauth.get_oauth_client(sdk.sim.tenant("acme").client_id))
    assert (status, refusal["code"]) == (404, "client.not.found")


async def test_the_sdk_reads_roles_permissions_and_the_home_division(sdk: Sdk) -> None:
    latam = sdk.sim.tenant("acme-latam")
    admin = await run(lambda: sdk.login(latam.admin_client_id or "", region="sa-east-1"))
    authorization = gc.AuthorizationApi(admin)
    roles = known_enums(await run(lambda: authorization.get_authorization_roles(name="Web Deployments")))
    assert isinstance(roles, gc.OrganizationRoleEntityListing)
    role = roles.entities[0]
    assert isinstance(role.permission_policies[0], gc.DomainPermissionPolicy)
    assert role.unused_permissions == ["webDeployments:configuration:view"]
    second = known_enums(await run(lambda: authorization.get_authorization_permissions(page_number=2)))
    assert isinstance(second, gc.PermissionCollectionEntityListing)
    web = next(c for c in second.entities if c.domain == "webDeployments")
    assert isinstance(web, gc.DomainPermissionCollection)
    assert [p.action for p in web.permission_map["deployment"]][:1] == ["view"]
    assert isinstance(web.permission_map["deployment"][0], gc.DomainPermission)
    assert "configuration" not in web.permission_map or all(
        p.action != "view" for p in web.permission_map["configuration"]
    )
    home = known_enums(await run(authorization.get_authorization_divisions_home))
    assert isinstance(home, gc.AuthzDivision)
    assert home.home_division is True


async def test_every_refusal_is_an_api_exception_with_the_platform_code(sdk: Sdk, api: Api) -> None:
    eu, acme = sdk.sim.tenant("acme-eu"), sdk.sim.tenant("acme")
    secondary = await run(lambda: sdk.login(eu.client_id, region="eu-west-1"))
    conversations = gc.ConversationsApi(secondary)
    status, body = await refused(conversations.get_conversations_messaging_integrations)
    assert (status, body["code"], body["status"]) == (403, "missing.permissions", 403)
    assert body["message"].endswith("[messaging:integration:view]")
    primary = await run(lambda: sdk.login(acme.client_id))
    assert (await refused(gc.UsersApi(primary).get_users_me))[1]["code"] == "not.a.user"
    bogus = sdk.bearer("not-a-token")
    assert (await refused(gc.TokensApi(bogus).get_tokens_me))[1]["code"] == "bad.credentials"
    desktop = sdk.sim.tenant("acme-agent-desktop")
    user = sdk.bearer(await api.user_token(desktop.client_id, desktop.redirect_uri or ""))
    status, body = await refused(gc.WebDeploymentsApi(user).get_webdeployments_deployments)
    assert (status, body["code"]) == (403, "app.not.authorized.for.scope")
    assert body["message"] == "App not authorized to use scope [webdeployments, webdeployments:readonly]"
    control.set_rate_limits(sdk.sim.world, token_requests_per_minute=1)
    limited = await run(lambda: sdk.login(acme.client_id))
    await run(gc.OrganizationApi(limited).get_organizations_me)
    with pytest.raises(ApiException) as caught:
        await run(gc.OrganizationApi(limited).get_organizations_me)
    assert (caught.value.status, caught.value.headers["Retry-After"]) == (429, "60")
    assert json.loads(caught.value.body)["code"] == "too.many.requests.retry.after"
