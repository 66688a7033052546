"""Warnings about a valid configuration: literal secrets and OAuth clients shared by tenants.

Covers: two tenants with one ``credentials.client_id`` are a warning naming both tenants and
both places, and ``Loaded.shared_clients`` / ``sharing_client_with`` tell which tenants share;
in different orgs with a client-credentials client the warning says the others act in the wrong
org, otherwise that regenerating the secret for one would break the others; a client shared by
many tenants is one short line; distinct clients, and the same admin client, are no warning;
no warning ever holds a secret.
"""

from __future__ import annotations

from typing import Any

from grantwarden.config import loading as configfile


def tenant(name: str, client: str, org: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "org_id": org or f"org-{name}",
        "region": "us-east-1",
        "credentials": {"client_id": client, "client_secret": {"env": "S"}, **extra},
        "admin_credentials": {"client_id": "one-admin-client", "client_secret": "admin-s3cret"},
    }


def load(*tenants: dict[str, Any]) -> configfile.Loaded:
    return configfile.load_mapping({"tenants": list(tenants)}, source="gw.yaml", environ={})


def shared_warnings(loaded: configfile.Loaded) -> list[str]:
    return [line for line in loaded.warnings if "OAuth client" in line]


def test_the_primarys_client_copied_for_a_secondary_org_is_a_warning_naming_both() -> None:
    loaded = load(tenant("acme", "cid-1"), tenant("globex", "cid-2"), tenant("acme-apac", "cid-1"))
    assert shared_warnings(loaded) == [
        "gw.yaml: tenants[0].credentials.client_id, tenants[2].credentials.client_id: tenants 'acme' and "
        "'acme-apac' use one OAuth client; a client-credentials client acts only in the org it belongs to, so all "
        "but one get tokens for the wrong org (wrong_org); give each org its own client"
    ]
    assert loaded.shared_clients == {"cid-1": ("acme", "acme-apac")}
    assert loaded.sharing_client_with("acme") == ("acme-apac",)
    assert loaded.sharing_client_with("globex") == ()
    assert loaded.sharing_client_with("nobody") == ()


def test_one_client_for_two_tenants_of_one_org_warns_against_regenerating_its_secret() -> None:
    loaded = load(tenant("acme", "cid-1", org="org-1"), tenant("acme-bots", "cid-1", org="org-1"))
    assert shared_warnings(loaded) == [
        "gw.yaml: tenants[0].credentials.client_id, tenants[1].credentials.client_id: tenants 'acme' and "
        "'acme-bots' use one OAuth client; regenerating its secret to fix one of them would break the others"
    ]


def test_a_user_grant_client_in_several_orgs_warns_against_regenerating_its_secret() -> None:
    code = {"grant": "authorization_code", "redirect_uri": "http://127.0.0.1:8765/callback"}
    loaded = load(tenant("acme-desk", "app-1", **code), tenant("globex-desk", "app-1", **code))
    assert [line.split("; ")[-1] for line in shared_warnings(loaded)] == [
        "regenerating its secret to fix one of them would break the others"
    ]


def test_a_client_shared_by_many_tenants_is_one_short_line() -> None:
    loaded = load(*(tenant(f"t{i}", "cid") for i in range(300)))
    (line,) = shared_warnings(loaded)
    assert "tenants 't0', 't1', 't2', 't3', 't4' and 295 more use one OAuth client" in line
    assert len(line) < 600
    assert loaded.shared_clients == {"cid": tuple(f"t{i}" for i in range(300))}


def test_distinct_clients_and_a_shared_admin_client_are_no_warning() -> None:
    loaded = load(tenant("acme", "cid-1"), tenant("globex", "cid-2"))
    assert shared_warnings(loaded) == []
    assert loaded.shared_clients == {}
    assert all("admin-s3cret" not in line for line in loaded.warnings)
    assert [line.split(": ")[1] for line in loaded.warnings] == [
        "tenants[0].admin_credentials.client_secret",
        "tenants[1].admin_credentials.client_secret",
    ]
