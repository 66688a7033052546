"""The hand-off's settings (design.md §2.8): what a file may say, and each mistake on one line.

Covers: off unless configured; a unix socket with or without a bearer token; TCP only with one
(``FILE: line N: handoff: ...``); listen addresses that are neither; a file mode above 0640
refused, the mode parsed as octal; ``sharding.peer_url`` must be an http(s) URL holding
``{index}``; the bearer token is a secret reference checked with the others at start (an unset
variable is a problem at ``handoff.bearer_token``, a literal one a warning); the environment can
turn the hand-off on.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grantwarden.config import loading as configfile

BASE = "tenants: []\n"


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> configfile.Loaded:
    path = tmp_path / "gw.yaml"
    path.write_text(textwrap.dedent(text) + BASE)
    return configfile.load(path, environ=environ or {})


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(configfile.ConfigError) as refused:
        load(tmp_path, text)
    return [line.split(": ", 1)[1] for line in refused.value.lines()]


def test_the_handoff_is_off_unless_configured(tmp_path: Path) -> None:
    assert load(tmp_path, "").settings.handoff is None


def test_a_unix_socket_needs_no_bearer_token_and_files_default_to_0640(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
        handoff:
          listen: "unix:/run/grantwarden/handoff.sock"
          files: {directory: /run/grantwarden/tokens}
        """,
    ).settings.handoff
    assert cfg is not None
    assert cfg.socket_path == Path("/run/grantwarden/handoff.sock")
    assert cfg.bearer_token is None
    assert cfg.files is not None
    assert (cfg.files.directory, cfg.files.file_mode) == (Path("/run/grantwarden/tokens"), 0o640)


def test_tcp_without_a_bearer_token_is_an_error_at_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, 'handoff:\n  listen: "127.0.0.1:9465"\n') == [
        "line 1: handoff: a hand-off on TCP (127.0.0.1:9465) needs bearer_token: anyone who reaches the port "
        "could take tokens"
    ]


def test_tcp_with_a_bearer_token_is_valid(tmp_path: Path) -> None:
    text = 'handoff:\n  listen: "0.0.0.0:9465"\n  bearer_token: {file: /run/secrets/grantwarden-handoff}\n'
    cfg = load(tmp_path, text).settings.handoff
    assert cfg is not None
    assert cfg.bearer_token is not None
    assert cfg.bearer_token.describe() == "file:/run/secrets/grantwarden-handoff"
    assert cfg.socket_path is None


@pytest.mark.parametrize("listen", ["unix:relative.sock", "localhost", ":", "unix:", "127.0.0.1:port"])
def test_a_listen_address_is_a_unix_path_or_host_and_port(tmp_path: Path, listen: str) -> None:
    (problem,) = problems(tmp_path, f'handoff:\n  listen: "{listen}"\n  bearer_token: x\n')
    assert problem.startswith("line 2: handoff.listen: String should match pattern")


@pytest.mark.parametrize(
    ("mode", "ok"),
    [("0640", True), ("0600", True), ("400", True), ("0440", True), ("0644", False), ("0660", False), ("0700", False)],
)
def test_a_file_mode_gives_at_most_read_to_the_group(tmp_path: Path, mode: str, ok: bool) -> None:
    text = f'handoff:\n  listen: "unix:/s"\n  files: {{directory: /t, mode: "{mode}"}}\n'
    if ok:
        cfg = load(tmp_path, text).settings.handoff
        assert cfg is not None
        assert cfg.files is not None
        assert cfg.files.file_mode == int(mode, 8)
    else:
        (problem,) = problems(tmp_path, text)
        assert problem == f"line 3: handoff.files.mode: mode {mode} gives more than 0640: tokens are for the owner " \
            "and its group to read only"  # fmt: skip


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://grantwarden-{index}.grantwarden:9465", None),
        ("https://handoff.example/{index}/", None),
        ("http://grantwarden.grantwarden:9465", "peer_url must contain {index}"),
        ("grantwarden-{index}:9465", "is not an http(s) URL"),
        ("http://x/{index}/{other}", "is not an http(s) URL"),
    ],
)
def test_peer_url_is_an_http_url_with_the_shard_index(tmp_path: Path, url: str, why: str | None) -> None:
    text = f'sharding: {{count: 2, index: 0, peer_url: "{url}"}}\n'
    if why is None:
        assert load(tmp_path, text).settings.sharding.peer_url == url
    else:
        (problem,) = problems(tmp_path, text)
        assert problem.startswith("line 1: sharding.peer_url: ")
        assert why in problem


def test_an_unresolvable_bearer_token_stops_the_start_naming_its_place(tmp_path: Path) -> None:
    loaded = load(tmp_path, 'handoff:\n  listen: "127.0.0.1:0"\n  bearer_token: {env: GW_HANDOFF_TOKEN}\n')
    with pytest.raises(configfile.ConfigError) as refused:
        configfile.resolve_secrets(loaded, environ={})
    assert refused.value.lines() == [
        f"{tmp_path / 'gw.yaml'}: handoff.bearer_token: environment variable GW_HANDOFF_TOKEN is not set or empty"
    ]
    configfile.resolve_secrets(loaded, environ={"GW_HANDOFF_TOKEN": "s3cret-token"})


def test_a_literal_bearer_token_is_a_warning(tmp_path: Path) -> None:
    loaded = load(tmp_path, 'handoff:\n  listen: "127.0.0.1:0"\n  bearer_token: literal-token-value\n')
    assert any("handoff.bearer_token: a literal secret" in warning for warning in loaded.warnings)
    assert all("literal-token-value" not in warning for warning in loaded.warnings)


def test_the_environment_can_turn_the_handoff_on(tmp_path: Path) -> None:
    environ = {"GRANTWARDEN_HANDOFF__LISTEN": "unix:/run/gw.sock"}
    cfg = load(tmp_path, "", environ).settings.handoff
    assert cfg is not None
    assert cfg.listen == "unix:/run/gw.sock"
