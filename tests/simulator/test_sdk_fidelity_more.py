"""Fidelity against the official SDK for the newer APIs: trusts, audits, allow-list, lifecycle, SAML2.

The SDK builds the requests (its own serialization of ``AuditRealtimeQueryRequest``,
``OrgAuthSettings``, ``OAuthClientRequest``, ``SendAgentlessOutboundMessageRequest``, the SAML2
bearer form) and reads the answers into its models: OrganizationAuthorizationApi (trustees,
trustee users and their roles, trustors, and the 403 missing.trustor.permissions), AuditApi
(realtime query and service mapping), OrganizationApi (authentication settings, and the 401
ip.not.authorized as an ApiException), OAuthApi (create, delete with cannot.delete.client and
client.not.found), ApiClient.get_saml2bearer_token, ConversationsApi's agentless not.a.client.
"""

from __future__ import annotations

from collections.abc import Iterator

import PureCloudPlatformClientV2 as gc  # noqa: N813 - the SDK's module name is long and CamelCase
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, control_orgs, model, saml, scenarios, testing

from .conftest import Api
from .sdkclient import Sdk, known_enums, refused, run

pytestmark = pytest.mark.e2e
VIA = "customer-via-partner"


@pytest.fixture
def trust_sdk(trust_platform: testing.Simulator) -> Iterator[Sdk]:
    handle = Sdk(trust_platform)
    yield handle
    handle.close()


@pytest.fixture
def sdk(platform: testing.Simulator) -> Iterator[Sdk]:
    handle = Sdk(platform)
    yield handle
    handle.close()


async def test_the_sdk_reads_trustees_members_roles_and_trustors(trust_sdk: Sdk, trust_api: Api) -> None:
    customer, via = trust_sdk.sim.tenant("customer"), trust_sdk.sim.tenant(VIA)
    admin = gc.OrganizationAuthorizationApi(await run(lambda: trust_sdk.login(customer.admin_client_id or "")))
    trustees = known_enums(await run(admin.get_orgauthorization_trustees))
    assert isinstance(trustees, gc.TrustEntityListing)
    (trustee,) = trustees.entities
    assert isinstance(trustee.organization, gc.Organization)
    assert (trustee.id, trustee.enabled, trustee.created_by.name) == (
        via.trust_home_org_id,
        True,
        "Organization Administrator",
    )
    users = known_enums(await run(lambda: admin.get_orgauthorization_trustee_users(trustee.id)))
    assert isinstance(users.entities[0], gc.TrustUser)
    assert users.entities[0].trust_user_details.date_created.year == 2023
    roles = known_enums(
        await run(lambda: admin.get_orgauthorization_trustee_user_roles(trustee.id, users.entities[0].id))
    )
    assert isinstance(roles, gc.UserAuthorization)
    assert sorted(r.name for r in roles.roles) == ["Messaging Viewer", "Web Deployments Viewer"]
    home = trust_sdk.bearer(await trust_api.user_token(via.client_id, via.redirect_uri or ""))
    trustors = known_enums(await run(gc.OrganizationAuthorizationApi(home).get_orgauthorization_trustors))
    assert isinstance(trustors, gc.TrustorEntityListing)
    assert trustors.entities[0].id == customer.org_id
    status, body = await refused(
        lambda: gc.OrganizationAuthorizationApi(home).get_orgauthorization_trustor_users(customer.org_id)
    )
    assert (status, body["code"]) == (403, "missing.trustor.permissions")


async def test_the_sdk_reads_a_trusted_users_token_and_trustors(trust_sdk: Sdk, trust_api: Api) -> None:
    via = trust_sdk.sim.tenant(VIA)
    trusted = trust_sdk.bearer(await trust_api.user_token(via.client_id, via.redirect_uri or "", target=via.org_id))
    info = known_enums(await run(gc.TokensApi(trusted).get_tokens_me))
    assert (info.organization.id, info.home_organization.id) == (via.org_id, via.trust_home_org_id)
    assert info.o_auth_client.organization.id == via.trust_home_org_id
    me = known_enums(await run(lambda: gc.UsersApi(trusted).get_users_me(expand=["token", "trustors"])))
    assert isinstance(me, gc.UserMe)
    assert isinstance(me.token, gc.TokenInfo)
    assert isinstance(me.trustors[0].authorization, gc.TrusteeAuthorization)


async def test_the_sdk_queries_the_audit_trail(trust_sdk: Sdk, clock: ManualClock) -> None:
    customer = trust_sdk.sim.tenant("customer")
    control.set_client_state(trust_sdk.sim.world, customer.client_id, "inactive")
    audits = gc.AuditApi(await run(lambda: trust_sdk.login(customer.admin_client_id or "")))
    body = gc.AuditRealtimeQueryRequest()
    body.interval = f"{model.iso(clock.now() - 3600)}/{model.iso(clock.now() + 60)}"
    body.service_name = "PeoplePermissions"
    entity = gc.AuditQueryFilter()
    entity.pcProperty, entity.value = "EntityType", "OAuthClient"
    newest = gc.AuditQuerySort()
    newest.name, newest.sort_order = "Timestamp", "descending"
    body.filters, body.sort = [entity], [newest]
    found = known_enums(await run(lambda: audits.post_audits_query_realtime(body)))
    assert isinstance(found, gc.AuditRealtimeQueryResultsResponse)
    (entry,) = found.entities
    assert isinstance(entry, gc.AuditLogMessage)
    assert (entry.action, entry.entity.id, entry.level, entry.status) == (
        "Update",
        customer.client_id,
        "USER",
        "SUCCESS",
    )
    assert isinstance(entry.property_changes[0], gc.PropertyChange)
    assert entry.property_changes[0].pcProperty == "state"
    mapping = known_enums(await run(audits.get_audits_query_realtime_servicemapping))
    assert mapping.services[0].name == "PeoplePermissions"


async def test_the_sdk_reads_and_patches_the_allow_list_and_sees_the_refusal(sdk: Sdk) -> None:
    acme = sdk.sim.tenant("acme")
    control.add_role(sdk.sim.world, acme.admin_client_id or "", "Everything")
    organization = gc.OrganizationApi(await run(lambda: sdk.login(acme.admin_client_id or "")))
    settings = known_enums(await run(organization.get_organizations_authentication_settings))
    assert isinstance(settings, gc.OrgAuthSettings)
    assert settings.ip_address_allowlist == []
    control_orgs.set_remote_address(sdk.sim.world, "52.1.2.3")
    change = gc.OrgAuthSettings()
    change.ip_address_allowlist = ["52.1.0.0/16"]
    patched = known_enums(await run(lambda: organization.patch_organizations_authentication_settings(change)))
    assert patched.ip_address_allowlist == ["52.1.0.0/16"]
    control_orgs.set_remote_address(sdk.sim.world, None)
    status, body = await refused(organization.get_organizations_me)
    assert (status, body["code"], body["message"]) == (
        401,
        "ip.not.authorized",
        "Requests originating from this IP address are not authorized: [127.0.0.1]",
    )


async def test_the_sdk_creates_and_deletes_a_client(sdk: Sdk) -> None:
    acme = sdk.sim.tenant("acme")
    control.add_role(sdk.sim.world, acme.admin_client_id or "", "Everything")
    oauth = gc.OAuthApi(await run(lambda: sdk.login(acme.admin_client_id or "")))
    viewer = sdk.sim.world.orgs[acme.org_id].role_named("Messaging Viewer")
    assert viewer is not None
    request = gc.OAuthClientRequest()
    request.name, request.authorized_grant_type = "made by the sdk", "CLIENT-CREDENTIALS"
    pair = gc.RoleDivision()
    pair.role_id, pair.division_id = viewer.id, "*"
    request.role_divisions = [pair]
    made = known_enums(await run(lambda: oauth.post_oauth_clients(request)))
    assert (made.state, bool(made.secret)) == ("active", True)
    status, body = await refused(lambda: oauth.delete_oauth_client(made.id))
    assert (status, body["code"]) == (400, "cannot.delete.client")
    request.state = "inactive"
    await run(lambda: oauth.put_oauth_client(made.id, request))
    assert await run(lambda: oauth.delete_oauth_client(made.id)) is None
    status, body = await refused(lambda: oauth.get_oauth_client(made.id))
    assert (status, body["code"], body["message"]) == (404, "client.not.found", "Client was not found.")


async def test_the_sdk_mints_with_a_saml2_assertion(clock: ManualClock) -> None:
    text = (
        "roles: {V: [messaging:integration:view]}\norgs:\n  o:\n    third_party_org_name: sso\n"
        "    users: {ada: {email: ada@sso.example, roles: [V]}}\n"
        "    clients: {idp: {id: idp, secret: s3, grant: SAML2-BEARER, scope: [messaging:readonly]}}\n"
    )
    async with testing.running(scenarios.loads(text, source="inline", clock=clock), clock=clock) as sim:
        handle = Sdk(sim)
        try:
            client = handle.fresh()
            await run(lambda: client.get_saml2bearer_token("idp", "s3", "sso", saml.assertion_for("ada@sso.example")))
            listing = await run(gc.ConversationsApi(client).get_conversations_messaging_integrations)
            assert listing.total == 3
        finally:
            handle.close()


async def test_the_sdk_sees_not_a_client_for_a_user_token(sdk: Sdk, api: Api) -> None:
    desktop = sdk.sim.tenant("acme-agent-desktop")
    user = sdk.bearer(await api.user_token(desktop.client_id, desktop.redirect_uri or ""))
    message = gc.SendAgentlessOutboundMessageRequest()
    message.from_address, message.to_address, message.to_address_messenger_type = "+13175550100", "+13175550199", "sms"
    message.text_body = "hello"
    status, body = await refused(lambda: gc.ConversationsApi(user).post_conversations_messages_agentless(message))
    assert (status, body["code"]) == (400, "not.a.client")
