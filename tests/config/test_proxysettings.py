"""The in-path proxy's settings (design.md §2.9) as a configuration file writes them.

Covers: no ``proxy`` section, no proxy; the defaults (loopback port 9466, 512,000-byte requests
as the platform's request.bytes.max, 16 MiB answers, 32 in flight, 30 s); a TCP listener without
``bearer_token`` is refused at its place in the file, a unix socket may go without; the token is
a secret reference resolved up front (unset: an error naming it, never a value) and warned about
when literal; ``proxy_allow`` rules refused with the reason at their index (a method outside the
seven or ``*``, a path outside /api/v2/, dot segments, partial wildcards); the JSON Schema knows
both; the methods the model accepts are the allow-list's.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest

from grantwarden.config import loading as configfile
from grantwarden.config import proxysettings, schema
from grantwarden.policy import allowlist

TENANT = {
    "name": "acme",
    "org_id": "org-1",
    "region": "us-east-1",
    "credentials": {"client_id": "c", "client_secret": "s"},
}


def load(raw: dict[str, Any]) -> configfile.Loaded:
    return configfile.load_mapping({"tenants": [TENANT], **raw}, source="gw.yaml", environ={})


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(configfile.ConfigError) as caught:
        load(raw)
    return str(caught.value).splitlines()


def test_without_a_proxy_section_there_is_no_proxy() -> None:
    assert load({}).settings.proxy is None


def test_the_defaults() -> None:
    proxy = load({"proxy": {"bearer_token": {"env": "GW_PROXY"}}}).settings.proxy
    assert proxy is not None
    assert (proxy.listen, proxy.unix_path) == ("127.0.0.1:9466", None)
    assert (proxy.max_request_bytes, proxy.max_response_bytes) == (512_000, 16 * 1024 * 1024)
    assert (proxy.per_tenant_concurrency, proxy.timeout) == (32, 30.0)


def test_a_tcp_listener_needs_a_bearer_token() -> None:
    assert problems({"proxy": {"listen": "0.0.0.0:9466"}}) == [
        "gw.yaml: proxy: bearer_token is required when listen is HOST:PORT (only a unix socket may go without it)"
    ]


def test_a_unix_socket_may_go_without_one() -> None:
    proxy = load({"proxy": {"listen": "unix:/run/grantwarden/proxy.sock"}}).settings.proxy
    assert proxy is not None
    assert proxy.unix_path == "/run/grantwarden/proxy.sock"
    assert proxy.bearer_token is None


def test_the_token_is_resolved_up_front_and_never_shown() -> None:
    loaded = load({"proxy": {"bearer_token": {"env": "GW_PROXY_TOKEN"}}})
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.resolve_secrets(loaded, environ={})
    assert "gw.yaml: proxy.bearer_token: environment variable GW_PROXY_TOKEN" in str(caught.value)
    configfile.resolve_secrets(loaded, environ={"GW_PROXY_TOKEN": "t0ken-value"})
    literal = load({"proxy": {"bearer_token": "t0ken-value"}})
    assert any("proxy.bearer_token: a literal secret" in line for line in literal.warnings)
    assert not any("t0ken-value" in line for line in literal.warnings)


@pytest.mark.parametrize(
    ("proxy", "says"),
    [
        pytest.param({"listen": "9466"}, "proxy.listen", id="no-host-port"),
        pytest.param({"listen": "unix:relative.sock"}, "proxy.listen", id="relative-socket"),
        pytest.param({"listen": "unix:/s", "max_request_bytes": 0}, "proxy.max_request_bytes", id="zero-request"),
        pytest.param(
            {"listen": "unix:/s", "per_tenant_concurrency": 0}, "proxy.per_tenant_concurrency", id="zero-slots"
        ),
        pytest.param({"listen": "unix:/s", "timeout": "0s"}, "proxy.timeout", id="zero-timeout"),
        pytest.param({"listen": "unix:/s", "port": 1}, "proxy.port: unknown setting", id="unknown-key"),
    ],
)
def test_wrong_proxy_settings_are_named(proxy: dict[str, Any], says: str) -> None:
    assert any(says in line for line in problems({"proxy": proxy}))


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        pytest.param({"method": "get", "path": "/api/v2/x"}, "proxy_allow[0].method: Input should be", id="lower-case"),
        pytest.param({"method": "TRACE", "path": "/api/v2/x"}, "proxy_allow[0].method", id="trace"),
        pytest.param({"method": "GET", "path": "/api/v1/x"}, "proxy_allow[0].path: path '/api/v1/x' must", id="v1"),
        pytest.param({"method": "GET", "path": "/api/v2/x/../y"}, "segment '..' is not a plain", id="dot-dot"),
        pytest.param({"method": "GET", "path": "/api/v2/x*"}, "a wildcard is a whole segment", id="partial"),
        pytest.param({"method": "GET"}, "proxy_allow[0].path", id="no-path"),
    ],
)
def test_a_rule_the_proxy_could_not_match_exactly_is_refused(rule: dict[str, Any], says: str) -> None:
    lines = problems({"blueprints": {"default": {"proxy_allow": [rule]}}})
    assert any(says in line for line in lines), lines


def test_rules_load_in_order() -> None:
    rules = [
        {"method": "GET", "path": "/api/v2/conversations/messaging/**"},
        {"method": "*", "path": "/api/v2/users/*"},
    ]
    blueprint = load({"blueprints": {"default": {"proxy_allow": rules}}}).settings.blueprints["default"]
    assert [(r.method, r.path) for r in blueprint.proxy_allow] == [(r["method"], r["path"]) for r in rules]


def test_the_methods_are_the_allow_lists() -> None:
    accepted = typing.get_args(proxysettings.ProxyRule.model_fields["method"].annotation)
    assert set(accepted) == {*allowlist.METHODS, allowlist.ANY_METHOD}


def test_the_schema_describes_the_proxy_and_its_rules() -> None:
    text = json.dumps(schema.generate())
    for word in ("proxy_allow", "bearer_token", "max_request_bytes", "per_tenant_concurrency", "unix:"):
        assert word in text
