"""Re-grant safety through the real executor: only allow-listed additions, and a person's edit is kept.

Covers: a Hypothesis property over random OAuth clients (extra fields of any JSON type, existing
roleDivisions including "*" divisions and duplicates, scopes), random other clients, allow-lists,
missing permissions, divisions and admin identities, planned by ``policy.planning`` from a view
that may be older than the client, then carried out by ``remediating.Executor`` with the real
``remote.client.Client`` and ``TokenBox`` against a loopback platform that stores exactly what it
is sent: the PUT body is the fresh GET with only the plan's missing allow-listed roleDivisions
appended (nothing removed, reordered or changed, no other field touched), it goes to the tenant's
client only, and no other client is read or written; a client whose roleDivisions the client
cannot read is never PUT; a scope re-grant likewise appends only the missing scopes. A person's
change between the executor's GET and its PUT: answered with 409 it is re-read and kept (and a
second 409 gives up without writing); on the simulator, whose PUT answers 409 request.conflict
when it carries a stale dateModified, the same race ends with the person's edit kept. On the simulator,
an executed re-grant adds exactly the planned role and leaves every other client as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.config import models as config_models
from grantwarden.policy import labels, planning
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.planning import RoleDivision, RolePlan
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, oauth, transport
from grantwarden.simulator import control, testing
from grantwarden.worker import api, remediating, tokenbox
from tests.e2e import support
from tests.policy.roles import HOME, ORG_ROLES, OTHER

pytestmark = pytest.mark.e2e

TENANT_CLIENT = "c-tenant"
OTHERS = ("c-other-1", "c-other-2")
ROLE_IDS = [role.id for role in ORG_ROLES]
ROLE_NAMES = [role.name for role in ORG_ROLES]
PERMISSIONS = [
    "messaging:integration:view",
    "messaging:setting:view",
    "webDeployments:deployment:view",
    "webDeployments:configuration:view",
    "routing:queue:view",
]
KNOWN_FIELDS = {"id", "name", "authorizedGrantType", "roleDivisions", "scope", "state", "registeredRedirectUri"}
FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
entries = st.fixed_dictionaries(
    {"roleId": st.sampled_from([*ROLE_IDS, "r-foreign", "r-person"]), "divisionId": st.sampled_from([HOME, OTHER, "*"])}
)


def oauth_clients(client_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """A client as GET returns it: the fields we read, and any others the platform may add."""
    known = st.fixed_dictionaries(
        {
            "id": st.just(client_id),
            "name": st.text(min_size=1, max_size=10),
            "authorizedGrantType": st.just("CLIENT-CREDENTIALS"),
            "roleDivisions": st.lists(entries, max_size=6),
        },
        optional={
            "scope": st.lists(st.text(max_size=8), max_size=3),
            "state": st.sampled_from(["active", "inactive"]),
            "registeredRedirectUri": st.lists(st.text(max_size=8), max_size=2),
        },
    )
    extra = st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda key: key not in KNOWN_FIELDS), json_values)
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


@dataclasses.dataclass
class Platform:
    """OAuth clients stored exactly as sent; a person may edit one right after a GET is answered."""

    clients: dict[str, dict[str, Any]]
    conflicts: bool = True  # 409 a PUT made after the client changed since its last GET
    person: Callable[[dict[str, Any]], None] | None = None  # the edit, on the first GET only
    person_edits: int = 1  # how many GETs are followed by the person's edit
    log: list[tuple[str, str, Any]] = dataclasses.field(default_factory=list)
    versions: dict[str, int] = dataclasses.field(default_factory=dict)
    read_version: dict[str, int] = dataclasses.field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        client_id = request.match_info["client_id"]
        if client_id not in self.clients:
            return web.json_response({"code": "client.not.found", "message": "Client not found."}, status=404)
        version = self.versions.setdefault(client_id, 0)
        if request.method == "GET":
            self.log.append(("GET", client_id, None))
            answer = web.json_response(copy.deepcopy(self.clients[client_id]))
            self.read_version[client_id] = version
            if self.person is not None and self.person_edits > 0:
                self.person_edits -= 1
                self.person(self.clients[client_id])  # someone edits it while we hold the old copy
                self.versions[client_id] += 1
            return answer
        body = await request.json()
        self.log.append(("PUT", client_id, copy.deepcopy(body)))
        if self.conflicts and self.read_version.get(client_id) != version:
            return web.json_response({"code": "request.conflict", "message": "Conflict", "status": 409}, status=409)
        self.clients[client_id] = body
        self.versions[client_id] += 1
        return web.json_response(body)


async def admin_holds_every_role(request: web.Request) -> web.StreamResponse:
    """The admin identity's ``tokens/me``: it holds every role a client here may hold or be given,
    so the executor's editor check (platform.md §2.4) lets every PUT of these properties go out."""
    held = [{"roleId": role_id, "divisionId": "*"} for role_id in (*ROLE_IDS, "r-foreign", "r-person")]
    return web.json_response({"organization": {"id": "org-1"}, "OAuthClient": {"id": "admin", "roleDivisions": held}})


@contextlib.asynccontextmanager
async def executor_on(platform: Platform) -> AsyncIterator[remediating.Executor]:
    """The real executor, client and token box against ``platform`` on loopback."""
    app = web.Application()
    app.router.add_route("*", "/api/v2/oauth/clients/{client_id}", platform.handle)
    app.router.add_get("/api/v2/tokens/me", admin_holds_every_role)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    clock = clocks.ManualClock()

    async def mint() -> oauth.TokenGrant:
        return oauth.TokenGrant(access_token="admin-token", token_type="bearer", expires_in=3600, received_at=0.0)

    box = tokenbox.TokenBox(
        tenant="t:admin",
        mint=mint,
        clock=clock,
        rng=random.Random(1),
        refresh=config_models.RefreshSettings(),
        metrics=None,
    )
    try:
        async with aiohttp.ClientSession() as session:
            client = remote_client.Client(session=session, clock=clock, redactor=redaction.Redactor())
            admin = api.TenantApi(
                client=client, endpoints=transport.Endpoints(url, url), gate=gate.Gate(), box=box, timeout_s=5.0
            )
            yield remediating.Executor(admin=admin, client_id=TENANT_CLIENT)
    finally:
        await runner.cleanup()


def execute(platform: Platform, plan: RolePlan) -> remediating.Result:
    async def run() -> remediating.Result:
        async with executor_on(platform) as executor:
            return await executor.add_roles(plan)

    return asyncio.run(run())


def pairs(role_divisions: list[Any]) -> list[tuple[Any, Any]]:
    return [(e.get("roleId"), e.get("divisionId")) for e in role_divisions if isinstance(e, dict)]


def expected_body(fetched: dict[str, Any], plan: RolePlan) -> dict[str, Any]:
    """What a correct re-grant PUTs: the fetched client, plus each missing planned entry once."""
    role_divisions = list(fetched["roleDivisions"])
    present = set(pairs(role_divisions))
    for item in plan.add:
        if (item.role_id, item.division_id) not in present:
            role_divisions.append({"roleId": item.role_id, "divisionId": item.division_id})
            present.add((item.role_id, item.division_id))
    return {**fetched, "roleDivisions": role_divisions}


@FUZZ
@given(
    current=oauth_clients(TENANT_CLIENT),
    planned_view=st.lists(entries, max_size=6),
    others=st.tuples(*(oauth_clients(other) for other in OTHERS)),
    allow=st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=4, unique=True),
    missing=st.frozensets(st.sampled_from(PERMISSIONS), min_size=1, max_size=3),
    requirement=st.sampled_from(Requirement),
    division=st.sampled_from(["home", "*", OTHER]),
    admin=st.just(frozenset(ROLE_IDS)) | st.frozensets(st.sampled_from(ROLE_IDS)),
)
def test_a_regrant_puts_the_fresh_client_plus_only_missing_allow_listed_role_divisions(
    current: dict[str, Any],
    planned_view: list[dict[str, str]],
    others: tuple[dict[str, Any], ...],
    allow: list[str],
    missing: frozenset[str],
    requirement: Requirement,
    division: str,
    admin: frozenset[str],
) -> None:
    plan = planning.plan_roles(
        missing=missing,
        requirement=requirement,
        allow_roles=allow,
        division=division,
        home_division_id=HOME,
        org_roles=ORG_ROLES,
        client_role_divisions=[RoleDivision(e["roleId"], e["divisionId"]) for e in planned_view],  # maybe stale
        licensed=None,
        admin_role_ids=admin,
    )
    event(f"plan: {type(plan).__name__}")
    if not isinstance(plan, RolePlan):
        return  # nothing to execute: refusals are planning's (tests/policy)
    allowed_ids = {role.id for role in ORG_ROLES if role.name in allow}
    target = HOME if division == "home" else division
    assert all(item.role_id in allowed_ids and item.division_id == target for item in plan.add)
    untouched = {other["id"]: copy.deepcopy(other) for other in others}
    platform = Platform(clients={TENANT_CLIENT: copy.deepcopy(current), **copy.deepcopy(untouched)})

    result = execute(platform, plan)

    assert {client_id for _, client_id, _ in platform.log} == {TENANT_CLIENT}, "no other client is read or written"
    assert {k: v for k, v in platform.clients.items() if k != TENANT_CLIENT} == untouched
    puts = [body for method, _, body in platform.log if method == "PUT"]
    wanted = expected_body(current, plan)
    if wanted == current:
        event("the client already had every planned entry")
        assert (puts, result.changed) == ([], False), "nothing missing: nothing written"
        return
    assert result.result is labels.RegrantResult.APPLIED
    assert puts == [wanted]
    assert platform.clients[TENANT_CLIENT] == wanted
    body = puts[0]
    assert body["roleDivisions"][: len(current["roleDivisions"])] == current["roleDivisions"], "nothing removed"
    assert {k: v for k, v in body.items() if k != "roleDivisions"} == {
        k: v for k, v in current.items() if k != "roleDivisions"
    }
    added = pairs(body["roleDivisions"][len(current["roleDivisions"]) :])
    assert added
    assert all(role in allowed_ids and where == target for role, where in added)


SCOPES = ["messaging:readonly", "webdeployments:readonly", "organization:readonly", "messaging"]


@FUZZ
@given(
    current=oauth_clients(TENANT_CLIENT).map(lambda c: {**c, "authorizedGrantType": "CODE"}),
    add=st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2, unique=True),
)
def test_a_scope_regrant_puts_the_fresh_client_plus_only_the_missing_scopes(
    current: dict[str, Any], add: list[str]
) -> None:
    platform = Platform(clients={TENANT_CLIENT: copy.deepcopy(current)})

    async def run() -> remediating.Result:
        async with executor_on(platform) as executor:
            return await executor.add_scopes(planning.ScopePlan(add=tuple(add)))

    result = asyncio.run(run())
    had = list(current.get("scope", []))
    wanted = {**current, "scope": had + [scope for scope in add if scope not in had]}
    puts = [body for method, _, body in platform.log if method == "PUT"]
    if wanted["scope"] == had:
        assert (puts, result.changed) == ([], False)
    else:
        assert puts == [wanted]
        assert result.result is labels.RegrantResult.APPLIED


@FUZZ
@given(current=oauth_clients(TENANT_CLIENT), junk=st.sampled_from(["junk", 7, None, {"roleId": 3}, {"x": "y"}]))
def test_a_client_whose_role_divisions_cannot_be_read_is_never_put(current: dict[str, Any], junk: Any) -> None:
    current = {**current, "roleDivisions": [*current["roleDivisions"], junk]}
    platform = Platform(clients={TENANT_CLIENT: copy.deepcopy(current)})
    plan = RolePlan(
        add=(RoleDivision("r-mv", HOME),), role_names=("Messaging Viewer",), covers=frozenset(), division_id=HOME
    )
    result = execute(platform, plan)
    assert result.result is labels.RegrantResult.FAILED
    assert [method for method, _, _ in platform.log] == ["GET"]
    assert platform.clients[TENANT_CLIENT] == current


def person_adds(entry: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(client: dict[str, Any]) -> None:
        client["roleDivisions"] = [*client["roleDivisions"], entry]

    return edit


def person_removes(client: dict[str, Any]) -> None:
    client["roleDivisions"] = client["roleDivisions"][1:]


def person_renames(client: dict[str, Any]) -> None:
    client["name"] = "renamed by a person"
    client["description"] = "edited while grantwarden was re-granting"


PLAN = RolePlan(
    add=(RoleDivision("r-mv", HOME),), role_names=("Messaging Viewer",), covers=frozenset(), division_id=HOME
)


@FUZZ
@given(
    current=oauth_clients(TENANT_CLIENT).filter(
        lambda c: c["roleDivisions"] and ("r-mv", HOME) not in pairs(c["roleDivisions"])  # the plan has work to do
    ),
    edit=st.sampled_from(["adds", "removes", "renames"]),
    added=entries,
)
def test_a_persons_edit_between_get_and_put_is_kept_when_the_platform_answers_409(
    current: dict[str, Any], edit: str, added: dict[str, str]
) -> None:
    person = {"adds": person_adds(added), "removes": person_removes, "renames": person_renames}[edit]
    platform = Platform(clients={TENANT_CLIENT: copy.deepcopy(current)}, person=person)
    edited = copy.deepcopy(current)
    person(edited)

    result = execute(platform, PLAN)

    final = platform.clients[TENANT_CLIENT]
    assert final == expected_body(edited, PLAN), "the person's edit, plus the re-grant"
    methods = [method for method, _, _ in platform.log]
    if final == edited:  # the edit itself added what the plan adds
        assert methods == ["GET", "PUT", "GET"]
        assert result.changed is False
    else:
        assert methods == ["GET", "PUT", "GET", "PUT"], "409, then a fresh GET and one more PUT"
        assert result.result is labels.RegrantResult.APPLIED


def test_a_second_409_gives_up_without_writing_anything() -> None:
    current = {"id": TENANT_CLIENT, "name": "n", "authorizedGrantType": "CLIENT-CREDENTIALS", "roleDivisions": []}
    platform = Platform(clients={TENANT_CLIENT: copy.deepcopy(current)}, person=person_renames, person_edits=99)
    result = execute(platform, PLAN)
    assert result.result is labels.RegrantResult.FAILED
    assert "Conflict" in result.detail
    assert [method for method, _, _ in platform.log] == ["GET", "PUT", "GET", "PUT"]
    assert platform.clients[TENANT_CLIENT]["name"] == "renamed by a person"
    assert platform.clients[TENANT_CLIENT]["roleDivisions"] == []


# ---------------------------------------------------------------------------------------------
# On the simulator: the real platform model
# ---------------------------------------------------------------------------------------------


def clients_of(sim: testing.Simulator) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in control.snapshot(sim.world)["clients"]}


def role_id(sim: testing.Simulator, org_id: str, name: str) -> str:
    org = sim.world.orgs[org_id]
    found = org.role_named(name)
    assert found is not None
    return found.id


class PersonAfterGet(remote_client.Client):
    """The real client; right after the executor's GET is answered, a person edits the client."""

    def __init__(self, *, edit: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._edit: Callable[[], None] | None = edit

    async def get_oauth_client(self, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        answer = await super().get_oauth_client(*args, **kwargs)
        if self._edit is not None:
            self._edit()
            self._edit = None
        return answer


@contextlib.asynccontextmanager
async def simulator_executor(
    sim: testing.Simulator, clock: clocks.ManualClock, tenant: str, edit: Callable[[], None] | None = None
) -> AsyncIterator[remediating.Executor]:
    spec = sim.tenant(tenant)
    assert spec.admin_client_id is not None
    endpoints = transport.Endpoints(sim.url(spec.region), sim.url(spec.region))
    async with aiohttp.ClientSession() as session:
        redactor = redaction.Redactor()
        client = (
            remote_client.Client(session=session, clock=clock, redactor=redactor)
            if edit is None
            else PersonAfterGet(edit=edit, session=session, clock=clock, redactor=redactor)
        )
        shared_gate = gate.Gate()
        admin_secret = sim.secret(spec.admin_client_id)

        async def mint() -> oauth.TokenGrant:
            assert spec.admin_client_id is not None
            return await client.mint_client_credentials(endpoints, spec.admin_client_id, admin_secret, gate=shared_gate)

        box = tokenbox.TokenBox(
            tenant=f"{tenant}:admin",
            mint=mint,
            clock=clock,
            rng=random.Random(3),
            refresh=config_models.RefreshSettings(),
            metrics=None,
        )
        admin = api.TenantApi(client=client, endpoints=endpoints, gate=shared_gate, box=box, timeout_s=5.0)
        yield remediating.Executor(admin=admin, client_id=spec.client_id)


async def test_on_the_simulator_a_regrant_adds_exactly_the_planned_role_and_touches_no_other_client() -> None:
    clock = clocks.ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme-eu")
        before = clients_of(sim)
        viewer = role_id(sim, spec.org_id, "Messaging Viewer")
        home = sim.world.orgs[spec.org_id].home_division_id
        plan = RolePlan(
            add=(RoleDivision(viewer, home),), role_names=("Messaging Viewer",), covers=frozenset(), division_id=home
        )
        async with simulator_executor(sim, clock, "acme-eu") as executor:
            result = await executor.add_roles(plan)
        after = clients_of(sim)
    assert result.result is labels.RegrantResult.APPLIED
    assert result.correlation_id
    changed = {client_id for client_id in before if before[client_id] != after[client_id]}
    assert changed == {spec.client_id}
    mine_before, mine_after = before[spec.client_id], after[spec.client_id]
    assert mine_after["roleDivisions"] == [*mine_before["roleDivisions"], {"roleId": viewer, "divisionId": home}]
    ignored = {"roleDivisions", "dateModified", "modifiedBy"}
    assert {k: v for k, v in mine_after.items() if k not in ignored} == {
        k: v for k, v in mine_before.items() if k not in ignored
    }
    path = f"/regions/{spec.region}/api/v2/oauth/clients/{spec.client_id}"
    me = f"/regions/{spec.region}/api/v2/tokens/me"
    assert [(r["method"], r["path"]) for r in sim.requests(kind="api")] == [("GET", path), ("GET", me), ("PUT", path)]


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        pytest.param("add Queue Viewer", "Queue Viewer", id="person-adds-a-role"),
        pytest.param("remove Web Deployments Viewer", "Web Deployments Viewer", id="person-removes-a-role"),
    ],
)
async def test_on_the_simulator_a_persons_edit_between_get_and_put_is_never_undone(edit: str, check: str) -> None:
    clock = clocks.ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme-eu")
        verb, role = edit.split(" ", 1)
        person = {
            "add": lambda: control.add_role(sim.world, spec.client_id, role),
            "remove": lambda: control.remove_role(sim.world, spec.client_id, role),
        }[verb]
        viewer = role_id(sim, spec.org_id, "Messaging Viewer")
        home = sim.world.orgs[spec.org_id].home_division_id
        plan = RolePlan(
            add=(RoleDivision(viewer, home),), role_names=("Messaging Viewer",), covers=frozenset(), division_id=home
        )
        async with simulator_executor(sim, clock, "acme-eu", edit=person) as executor:
            await executor.add_roles(plan)
        names = {r.id: r.name for r in sim.world.orgs[spec.org_id].roles.values()}
        final = {names[rd["roleId"]] for rd in clients_of(sim)[spec.client_id]["roleDivisions"]}
    assert (check in final) is (verb == "add"), f"the person's '{edit}' was undone: {sorted(final)}"
