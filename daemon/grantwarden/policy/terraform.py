"""What to add to a Terraform-managed OAuth client: ``genesyscloud_oauth_client`` blocks, never a PUT.

With ``grants.managed_by: terraform`` the client's roles and scopes belong to CX as Code: a PUT by
grantwarden would be undone by the next ``terraform apply`` (and fight it). So the plan is
printed as what to add to the client's ``genesyscloud_oauth_client`` resource (platform.md §8):
one ``roles`` block per role, ``role_id`` from a ``data "genesyscloud_auth_role"`` lookup by name
(role ids differ per org, platform.md §10) and ``division_id`` the planned division (``"*"`` for
all), or the scopes to add to its ``scopes``. ``hcl`` is the text ``plan --format terraform``
prints; ``sentence`` is the short form a finding's fix carries. Pure; no I/O.
"""

from __future__ import annotations

import json
import re

from grantwarden.policy.planning import RolePlan, ScopePlan

RESOURCE = "genesyscloud_oauth_client"
ROLE_DATA = "genesyscloud_auth_role"
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def label(role_name: str) -> str:
    """A Terraform block label for a role: ``Messaging Viewer`` → ``messaging_viewer``."""
    text = _NOT_NAME.sub("_", role_name.casefold()).strip("_") or "role"
    return text if text[0].isalpha() else f"role_{text}"


def _quoted(value: str) -> str:
    return json.dumps(value)  # an HCL string literal: the same escapes as JSON for these values


def hcl(plan: RolePlan | ScopePlan, *, tenant: str, org_id: str, client_id: str) -> list[str]:
    """The lines to add for ``plan``: data sources, then what goes inside the client's resource."""
    head = f"# tenant {tenant}: org {org_id}, OAuth client {client_id} ({RESOURCE})"
    if isinstance(plan, ScopePlan):
        scopes = ", ".join(_quoted(s) for s in plan.add)
        return [head, f"# add to the resource's scopes: {scopes}", ""]
    lines = [head]
    names = dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))
    for name in dict.fromkeys(plan.role_names):
        lines += [f'data "{ROLE_DATA}" "{label(name)}" {{', f"  name = {_quoted(name)}", "}"]
    lines.append(f'# inside its resource "{RESOURCE}" (OAuth client {client_id}):')
    for entry in plan.add:
        name = names.get(entry.role_id, entry.role_id)
        lines += [
            "roles {",
            f"  role_id     = data.{ROLE_DATA}.{label(name)}.id",
            f"  division_id = {_quoted(entry.division_id)}",
            "}",
        ]
    return [*lines, ""]


def sentence(plan: RolePlan | ScopePlan) -> str:
    """What to add, in words (a finding's fix)."""
    if isinstance(plan, ScopePlan):
        return f"add {', '.join(_quoted(s) for s in plan.add)} to the scopes of its {RESOURCE} resource"
    names = dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))
    blocks = [
        f"roles {{ role_id = data.{ROLE_DATA}.{label(names.get(e.role_id, e.role_id))}.id, "
        f"division_id = {_quoted(e.division_id)} }}"
        for e in plan.add
    ]
    lookups = [f'data "{ROLE_DATA}" "{label(n)}" {{ name = {_quoted(n)} }}' for n in dict.fromkeys(plan.role_names)]
    return f"add {' and '.join(blocks)} to its {RESOURCE} resource, with {' and '.join(lookups)}"
