"""configproc: a large configuration is read in a child interpreter, with the same result.

Covers: a file over the threshold is parsed by a child (the parent's own reader is never
called) into settings and warnings equal to an in-process load, shared OAuth clients and
``tenants: []`` on purpose included; an invalid file gives the same error lines (with their
line numbers, repeated keys among them); ``GRANTWARDEN_*`` overrides from the given environment reach the child; a child
that cannot start falls back to reading in-process; a small file never starts a child.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grantwarden.config import isolated as configproc
from grantwarden.config import loading as configfile

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "grantwarden.example.yaml"


def force_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on every file counts as large, and this process's reader refuses to be used."""
    monkeypatch.setattr(configproc, "ISOLATE_ABOVE_BYTES", 0)

    def refuse(*args: Any, **kwargs: Any) -> configfile.Loaded:
        raise AssertionError("read in the parent")

    monkeypatch.setattr(configfile, "load", refuse)


def test_a_large_file_is_read_by_a_child_into_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = configfile.load(EXAMPLE, environ={})
    force_child(monkeypatch)
    loaded = configproc.load(EXAMPLE, environ={})
    assert loaded.settings == expected.settings
    assert loaded.warnings == expected.warnings
    first = expected.settings.tenants[0]
    assert loaded.settings.tenant(first.name) == first


def test_an_invalid_large_file_gives_the_same_error_lines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXAMPLE.read_text().replace("probe_interval: 60s", "probe_interval: soon"))
    with pytest.raises(configfile.ConfigError) as here:
        configfile.load(broken, environ={})
    force_child(monkeypatch)
    with pytest.raises(configfile.ConfigError) as there:
        configproc.load(broken, environ={})
    assert there.value.lines() == here.value.lines()
    assert "defaults.probe_interval" in str(there.value)


def test_grantwarden_overrides_reach_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    force_child(monkeypatch)
    loaded = configproc.load(EXAMPLE, environ={"GRANTWARDEN_SERVER__LISTEN": "127.0.0.1:19999", "OTHER": "x"})
    assert loaded.settings.server.listen == "127.0.0.1:19999"


def test_a_child_that_cannot_start_falls_back_to_reading_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configproc, "ISOLATE_ABOVE_BYTES", 0)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    loaded = configproc.load(EXAMPLE, environ={})
    assert loaded.settings == configfile.load(EXAMPLE, environ={}).settings


def test_a_small_file_never_starts_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        raise AssertionError("a child was started")

    monkeypatch.setattr(subprocess, "run", refuse)
    assert configproc.load(EXAMPLE, environ={}).settings.tenants


def test_what_the_child_finds_beyond_the_settings_comes_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        EXAMPLE.read_text().replace("9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    )
    empty = tmp_path / "empty.yaml"
    empty.write_text("tenants: []\n")
    repeated = tmp_path / "repeated.yaml"
    repeated.write_text(EXAMPLE.read_text() + "tenants: []\n")
    expected = [configfile.load(path, environ={}) for path in (shared, empty)]
    with pytest.raises(configfile.ConfigError) as here:
        configfile.load(repeated, environ={})
    force_child(monkeypatch)
    loaded = [configproc.load(path, environ={}) for path in (shared, empty)]
    assert (
        loaded[0].shared_clients
        == expected[0].shared_clients
        == {"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0": ("acme", "acme-eu")}
    )
    assert loaded[0].warnings == expected[0].warnings
    assert loaded[1].tenants_empty_on_purpose
    assert expected[1].tenants_empty_on_purpose
    with pytest.raises(configfile.ConfigError) as there:
        configproc.load(repeated, environ={})
    assert there.value.lines() == here.value.lines()
    assert [problem.why.startswith("key tenants appears twice") for problem in there.value.problems] == [True]


@pytest.mark.parametrize("text", ["", "# emptied by mistake\n", "tenants:\n"])
def test_a_reload_of_a_file_emptied_by_mistake_is_refused_not_read_as_no_tenants(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    """The reload's loader (a child for a large file): the running tenants stay, since the reload
    keeps the old configuration on a ConfigError."""
    emptied = tmp_path / "grantwarden.yaml"
    emptied.write_text(text)
    force_child(monkeypatch)
    with pytest.raises(configfile.ConfigError) as caught:
        configproc.load(emptied, environ={})
    assert caught.value.lines()[0].endswith("(write tenants: [] to run with none on purpose)")
