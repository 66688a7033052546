"""terraform: what to add to a Terraform-managed client's ``genesyscloud_oauth_client`` resource.

Covers: block labels from role names; the HCL for a role plan (one ``data "genesyscloud_auth_role"``
lookup per role by name, one ``roles`` block per entry with ``role_id`` from the lookup and the
planned ``division_id``, ``"*"`` included) and for a scope plan; the one-line sentence a fix carries.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import terraform
from grantwarden.policy.planning import RoleDivision, RolePlan, ScopePlan

PLAN = RolePlan(
    add=(RoleDivision("r-mv", "d-home"), RoleDivision("r-wd", "*")),
    role_names=("Messaging Viewer", "Web Deployments Viewer"),
    covers=frozenset({"messaging:integration:view"}),
    division_id="d-home",
)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        pytest.param("Messaging Viewer", "messaging_viewer", id="words"),
        pytest.param("  OAuth/Client Admin!! ", "oauth_client_admin", id="punctuation"),
        pytest.param("2nd line", "role_2nd_line", id="leading-digit"),
        pytest.param("!!!", "role", id="nothing-left"),
    ],
)
def test_label(name: str, label: str) -> None:
    assert terraform.label(name) == label


def test_the_hcl_of_a_role_plan_looks_each_role_up_by_name_and_adds_one_block_per_entry() -> None:
    lines = terraform.hcl(PLAN, tenant="acme-eu", org_id="org-1", client_id="c-1")
    assert lines[0] == "# tenant acme-eu: org org-1, OAuth client c-1 (genesyscloud_oauth_client)"
    text = "\n".join(lines)
    assert 'data "genesyscloud_auth_role" "messaging_viewer" {\n  name = "Messaging Viewer"\n}' in text
    assert 'data "genesyscloud_auth_role" "web_deployments_viewer" {\n  name = "Web Deployments Viewer"\n}' in text
    assert (
        'roles {\n  role_id     = data.genesyscloud_auth_role.messaging_viewer.id\n  division_id = "d-home"\n}' in text
    )
    assert (
        'roles {\n  role_id     = data.genesyscloud_auth_role.web_deployments_viewer.id\n  division_id = "*"\n}' in text
    )
    assert text.count("roles {") == 2


def test_a_scope_plan_names_the_scopes_to_add() -> None:
    lines = terraform.hcl(ScopePlan(add=("webdeployments:readonly",)), tenant="t", org_id="o", client_id="c")
    assert '# add to the resource\'s scopes: "webdeployments:readonly"' in lines


def test_the_sentence_is_what_a_fix_carries() -> None:
    assert terraform.sentence(PLAN) == (
        'add roles { role_id = data.genesyscloud_auth_role.messaging_viewer.id, division_id = "d-home" } and '
        'roles { role_id = data.genesyscloud_auth_role.web_deployments_viewer.id, division_id = "*" } to its '
        'genesyscloud_oauth_client resource, with data "genesyscloud_auth_role" "messaging_viewer" '
        '{ name = "Messaging Viewer" } and data "genesyscloud_auth_role" "web_deployments_viewer" '
        '{ name = "Web Deployments Viewer" }'
    )
    assert (
        terraform.sentence(ScopePlan(add=("a", "b")))
        == 'add "a", "b" to the scopes of its genesyscloud_oauth_client resource'
    )
