"""The per-tenant state file: atomic, private, minimal, and honest about damage.

Covers: a missing file reads as None; a write creates the directory 0700 and the file 0600 even
under a permissive umask, and holds only the documented keys; what is written reads back; a
failed write leaves the old file whole and no temporary file behind; compare-and-swap writes only
while the expected token is there; a corrupt, oversized or unreadable file is reported with its
path and never its content; tokens read are registered with the redactor; a state's repr hides
its tokens; a tenant name that is not a file name is refused.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grantwarden.base import redaction
from grantwarden.worker import statefile

TOKEN = "rt-Mn8Bv7Cx6Zl5Kj4Hg3Fd2Sa1Qw0ErTyUiOp-refresh"
OLDER = "rt-Qq1Ww2Ee3Rr4Tt5Yy6Uu7Ii8Oo9Pp0-previous"


def state(**changes: Any) -> statefile.State:
    fields: dict[str, Any] = {
        "refresh_token": TOKEN,
        "previous_refresh_token": OLDER,
        "org_id": "2a3a43e5-e89c-406e-badf-e79288bd4ab0",
        "user_id": "u-1",
        "user_name": "Avery Agent",
        "scopes": ("messaging:readonly", "user-basic-info"),
        "updated_at": statefile.stamp(1_800_000_000),
    }
    return statefile.State(**(fields | changes))


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert statefile.read(tmp_path / "nowhere", "acme") is None


@pytest.mark.usefixtures("permissive_umask")
def test_a_write_creates_a_0700_directory_and_a_0600_file(tmp_path: Path) -> None:
    state_dir = tmp_path / "var" / "grantwarden"
    assert statefile.save(state_dir, "acme", state())
    assert mode(state_dir) == 0o700
    assert mode(state_dir / "acme.json") == 0o600
    assert sorted(os.listdir(state_dir)) == ["acme.json"]


def test_the_file_holds_only_the_documented_keys_and_reads_back(tmp_path: Path) -> None:
    written = state()
    statefile.save(tmp_path, "acme", written)
    raw = statefile.path_for(tmp_path, "acme").read_text()
    assert (
        set(json.loads(raw))
        == statefile.KEYS
        == {
            "refresh_token",
            "previous_refresh_token",
            "org_id",
            "user_id",
            "user_name",
            "scopes",
            "updated_at",
        }
    )
    assert statefile.read(tmp_path, "acme") == written
    assert written.updated_at == "2027-01-15T08:00:00+00:00"


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statefile.save(tmp_path, "acme", state())

    def crash(*args: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="Input/output error"):
        statefile.save(tmp_path, "acme", state(refresh_token="rt-new-one-0123456789"))
    assert statefile.read(tmp_path, "acme") == state()
    assert os.listdir(tmp_path) == ["acme.json"]


def test_compare_and_swap_writes_only_while_the_expected_token_is_there(tmp_path: Path) -> None:
    statefile.save(tmp_path, "acme", state())
    rotated = state(refresh_token="rt-rotated-0123456789", previous_refresh_token=TOKEN)
    assert not statefile.save(tmp_path, "acme", rotated, expected=OLDER)
    assert statefile.read(tmp_path, "acme") == state()
    assert statefile.save(tmp_path, "acme", rotated, expected=TOKEN)
    assert statefile.read(tmp_path, "acme") == rotated
    assert not statefile.save(tmp_path, "other", rotated, expected=TOKEN)  # no file: nothing to swap


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(b'{"refresh_token": "' + TOKEN.encode(), "not valid JSON (Unterminated string", id="cut"),
        pytest.param(b"\xff\xfe" + TOKEN.encode(), "not UTF-8 JSON", id="binary"),
        pytest.param(b'["' + TOKEN.encode() + b'"]', "(top level): Input should be a valid dictionary", id="list"),
        pytest.param(b'{"updated_at": "2027-01-15T08:00:00+00:00"}', "refresh_token: Field required", id="no-token"),
        pytest.param(
            b'{"refresh_token": "' + TOKEN.encode() + b'", "scopes": "' + TOKEN.encode() + b'", "updated_at": "x"}',
            "scopes: Input should be a valid tuple",
            id="wrong-type",
        ),
        pytest.param(b" " * (statefile.MAX_BYTES + 1), "larger than 65536 bytes", id="huge"),
    ],
)
def test_a_corrupt_file_names_the_file_and_the_problem_but_not_the_content(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    statefile.path_for(tmp_path, "acme").write_bytes(content)
    with pytest.raises(statefile.StateFileError) as caught:
        statefile.read(tmp_path, "acme")
    message = str(caught.value)
    assert message.startswith(f"state file {tmp_path / 'acme.json'}: ")
    assert problem in message
    assert TOKEN not in message
    assert TOKEN not in repr(caught.value.__context__)  # nothing chained either


def test_an_unreadable_file_is_reported_with_its_path(tmp_path: Path) -> None:
    statefile.path_for(tmp_path, "acme").mkdir()
    with pytest.raises(statefile.StateFileError, match=r"acme\.json: cannot read it: Is a directory"):
        statefile.read(tmp_path, "acme")


def test_tokens_read_are_registered_with_the_redactor(tmp_path: Path) -> None:
    statefile.save(tmp_path, "acme", state())
    redactor = redaction.Redactor()
    statefile.read(tmp_path, "acme", redactor=redactor)
    assert redactor.redact_text(f"a {TOKEN} and a {OLDER}") == "a [redacted] and a [redacted]"


def test_the_repr_of_a_state_hides_its_tokens() -> None:
    shown = repr(state()) + str(state())
    assert TOKEN not in shown
    assert OLDER not in shown
    assert "Avery Agent" in shown


@pytest.mark.parametrize("name", ["../etc/passwd", ".hidden", "UPPER", "a/b", ""])
def test_a_tenant_name_that_is_not_a_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a tenant name"):
        statefile.save(tmp_path, name, state())
    with pytest.raises(ValueError, match="not a tenant name"):
        statefile.read(tmp_path, name)
