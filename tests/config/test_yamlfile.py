"""Reading YAML text: the fast reader (libyaml) must mean what the pure-Python reader always meant.

Covers: the texts on which libyaml and the pure reader disagree (a tab between tokens, a ``?``
inside an unquoted value in a flow collection, a byte-order mark starting a later line, a
comment glued to a block scalar's ``|``, an empty value tagged ``!``) read as the pure reader
reads them, value or error with its line and column; nesting deeper than ``MAX_NESTING`` is
"nested too deeply" from either reader, aliases that share a deep list included, while a list
that holds itself reads as it always did; an alias bomb reads without expanding; a value its
tag cannot read (``!!bool x``) is a YAML error at its line, not a crash; and on random texts
built from YAML's tokens, both readers give the same value or the same error. A key written
twice in one mapping, at any depth (inside lists, in flow style, spelled differently but read
the same, in a mapping merged in), is found by both readers with its path and lines, once per
mapping even when aliases reuse it, while a merged key overridden is none; ``lines`` finds the
line a path is written on.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from grantwarden.config import yamlfile


def outcome(read: object, text: str) -> tuple[str, object]:
    try:
        return "value", read(text)  # type: ignore[operator]
    except yamlfile.UnreadableError as exc:
        return "error", str(exc)


def pure(text: str) -> object:
    """The reference: the pure-Python reader alone (PyYAML's SafeLoader, as before libyaml)."""
    return yamlfile._read_pure(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a:\tb\n", id="tab-after-colon"),
        pytest.param("tenants:\n\t- name: a\n", id="tab-indent"),
        pytest.param("a: [x, y?z]\n", id="question-mark-in-flow"),
        pytest.param("a: {k: http://h/p?x=1}\n", id="url-query-in-flow"),
        pytest.param("a: 1\n\ufeff# comment\nb: 2\n", id="bom-on-a-later-line"),
        pytest.param("a: |# comment\n  text\n", id="comment-glued-to-block-scalar"),
        pytest.param("a: !\n", id="empty-value-tagged-bang"),
        pytest.param("\ufeff!", id="bom-then-bang"),
        pytest.param("a: 'quoted?' \nb: [c]\n", id="question-mark-quoted"),
    ],
)
def test_texts_the_two_readers_disagree_on_read_as_the_pure_reader_reads_them(text: str) -> None:
    assert outcome(yamlfile.read, text) == outcome(pure, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a: [x, y?z]\n", "line 1, column 9: YAML syntax error: expected ',' or ']', but got '?'", id="?"),
        pytest.param("a:\tb\n", "line 1, column 3: YAML syntax error: found character '\\t'", id="tab"),
    ],
)
def test_what_only_libyaml_accepts_is_refused_with_the_pure_readers_line_and_column(text: str, expected: str) -> None:
    with pytest.raises(yamlfile.UnreadableError) as caught:
        yamlfile.read(text)
    assert str(caught.value).startswith(expected)


@pytest.mark.parametrize(
    "depth",
    [
        pytest.param(yamlfile.MAX_NESTING + 1, id="just-too-deep"),
        pytest.param(600, id="libyaml-reads-it"),
        pytest.param(1500, id="libyaml-refuses-it"),
    ],
)
def test_nesting_deeper_than_the_limit_is_too_deep_whichever_reader_reads_it(depth: int) -> None:
    with pytest.raises(yamlfile.UnreadableError, match="nested too deeply to read"):
        yamlfile.read("[" * depth + "]" * depth)


def test_nesting_up_to_the_limit_reads() -> None:
    depth = yamlfile.MAX_NESTING
    document = yamlfile.read("[" * depth + "]" * depth).data
    for _ in range(depth - 1):
        document = document[0]
    assert document == []


def test_aliases_count_as_deep_as_the_list_they_point_at() -> None:
    deep = "[" * 300 + "]" * 300
    text = f"a: &deep {deep}\nb: {'[' * 150}*deep{']' * 150}\n"
    with pytest.raises(yamlfile.UnreadableError, match="nested too deeply to read"):
        yamlfile.read(text)


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x ['?', *x]\n"])
def test_a_list_that_holds_itself_reads_as_the_pure_reader_read_it(text: str) -> None:
    document = yamlfile.read(text).data
    assert document["a"][-1] is document["a"]


def test_an_alias_bomb_is_read_without_expanding_it() -> None:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]  # 9**9 strings
    document = yamlfile.read("\n".join(lines) + "\n").data
    assert document["x8"][0][0][0][0][0][0][0][0][0] == "lol"


@pytest.mark.parametrize(
    ("text", "where", "tag"),
    [
        pytest.param("a: !!bool maybe\n", "line 1, column 4", "!!bool", id="bool"),
        pytest.param('a:\n  b: !!int ""\n', "line 2, column 6", "!!int", id="int"),
        pytest.param("a: [1, !!float '']\n", "line 1, column 8", "!!float", id="float"),
        pytest.param("a: !!timestamp x\n", "line 1, column 4", "!!timestamp", id="timestamp"),
        pytest.param("a: {!!int x: 1}\n", "line 1, column 5", "!!int", id="int-key"),
        pytest.param("a: !!float x\n", "line 1, column 4", "!!float", id="float-word"),
    ],
)
def test_a_value_its_tag_cannot_read_is_a_yaml_error_at_its_line(text: str, where: str, tag: str) -> None:
    with pytest.raises(yamlfile.UnreadableError) as caught:
        yamlfile.read(text)
    assert str(caught.value) == f"{where}: YAML syntax error: not a valid {tag} value"


def test_an_ordinary_file_reads_as_the_pure_reader_reads_it() -> None:
    text = yaml.safe_dump(
        {
            "server": {"listen": "127.0.0.1:0", "admin_token": {"env": "ADMIN"}},
            "defaults": {"probe_interval": "60s", "refresh": {"at_fraction": 0.75}},
            "tenants": [{"name": f"t{i}", "org_id": f"o-{i}", "region": "us-east-1"} for i in range(20)],
        }
    )
    assert yamlfile.read(text) == pure(text)


TOKENS = [
    *["a", "b1", "key", "x y", "'q'", '"d\\tq"', '"u\\x41"', "1", "-2", "0x1F", "1.5e3", ".inf", "~", "null", "yes"],
    *["2001-12-14", "12:30", "http://h/p?x=1", "a#b", "a #c", "#c", "&an", "*an", "!!str", "!!int", "!!set", "!foo"],
    *["?", "? ", ":", ": ", "- ", "-", "[", "]", "{", "}", ",", ", ", "|", ">", "|-", ">+", "|2", "---", "...", "<<"],
    *["%", "@", "`", "!", "\u00e9", "\u2028", "\x85", "\ufeff", "\\", "'", '"', "a'b", "*", "&", " ", "  ", "\t"],
    *["\n", "\n  ", "\n- ", "\n    ", "\r\n"],
]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30).map("".join))
def test_on_any_text_of_yaml_tokens_both_readers_agree(text: str) -> None:
    assert outcome(yamlfile.read, text) == outcome(pure, text)


READERS = [
    pytest.param(yamlfile._read_fast, id="libyaml"),
    pytest.param(yamlfile._read_pure, id="pure"),
]
REPEATS = [
    pytest.param("tenants: []\nserver: {}\ntenants: []\n", (), "tenants", (1, 3), id="top-level"),
    pytest.param("server:\n  listen: a\n  listen: b\n", ("server",), "listen", (2, 3), id="nested"),
    pytest.param(
        "tenants:\n  - name: a\n    credentials:\n      client_id: x\n      client_secret: y\n      client_id: z\n",
        ("tenants", 0, "credentials"),
        "client_id",
        (4, 6),
        id="in-a-list-item",
    ),
    pytest.param("tenants:\n  - {name: a}\n  - {name: b, name: c}\n", ("tenants", 1), "name", (3, 3), id="flow"),
    pytest.param("a: [[{k: 1}, {k: 1, k: 2}]]\n", ("a", 0, 1), "k", (1, 1), id="list-in-list"),
    pytest.param("a:\n  k: 1\n  k: 2\n  k: 3\n", ("a",), "k", (2, 3, 4), id="three-times"),
    pytest.param("d:\n  true: 1\n  yes: 2\n", ("d",), True, (2, 3), id="spelled-apart-read-alike"),
    pytest.param("x: &m {k: 1, k: 2}\ny: [*m, *m]\n", ("x",), "k", (1, 1), id="aliased-reported-once"),
    pytest.param("m: {<<: {a: 1, a: 2}, b: 3}\n", None, "a", (1, 1), id="inside-a-merge"),
]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("text", "path", "key", "lines"), REPEATS)
def test_a_key_written_twice_is_found_by_both_readers_with_its_path_and_lines(
    reader: Any, text: str, path: tuple[Any, ...] | None, key: Any, lines: tuple[int, ...]
) -> None:
    document = reader(text)
    assert document is not None, "libyaml handed this text to the pure reader"
    assert document.repeats == (yamlfile.yamlkeys.Repeat(path, key, lines),)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("b: &b {k: 1}\nm: {<<: *b, k: 2}\n", id="merged-key-overridden"),
        pytest.param("b: &b {k: 1}\nc: &c {k: 2}\nm: {<<: [*b, *c]}\n", id="two-merges-one-key"),
        pytest.param("a: {k: 1}\nb: {k: 1}\nc: [{k: 1}, {k: 2}]\n", id="same-key-in-other-mappings"),
        pytest.param("k: 1\nK: 2\n'k ': 3\n", id="different-keys"),
    ],
)
def test_keys_that_are_not_repeated_in_their_mapping_are_no_repeat(reader: Any, text: str) -> None:
    document = reader(text)
    assert document is not None
    assert document.repeats == ()


@pytest.mark.parametrize("text", ["m: {<<: {[a]: 1}}\n", "m: {[a]: 1, [a]: 2}\n"])
def test_a_key_pyyaml_cannot_hold_is_its_error_not_a_repeat(text: str) -> None:
    with pytest.raises(yamlfile.UnreadableError, match="found unhashable key"):
        yamlfile.read(text)


def test_the_document_of_a_repeated_key_is_what_pyyaml_reads_the_last_one_wins() -> None:
    document = yamlfile.read("tenants: [a]\ntenants:\n")
    assert document.data == {"tenants": None}
    assert [repeat.key for repeat in document.repeats] == ["tenants"]


def test_a_text_only_the_pure_reader_reads_has_its_repeats_found_too() -> None:
    text = "a:\n  k: 1\n  k: 2\nb: !\n"  # a lone ``!``: libyaml reads "", the pure reader null
    assert yamlfile._read_fast(text) is None
    document = yamlfile.read(text)
    assert document.repeats == (yamlfile.yamlkeys.Repeat(("a",), "k", (2, 3)),)


def test_lines_are_where_each_path_is_written() -> None:
    text = "server:\n  listen: x\ntenants:\n  - name: a\n    credentials:\n      client_id: c\ntenants:\n  - name: b\n"
    found = yamlfile.lines(
        text,
        [("server", "listen"), ("tenants",), ("tenants", 0, "name"), ("tenants", 0, "org_id"), ("nowhere",), ()],
    )
    assert found == {
        ("server", "listen"): 2,
        ("tenants",): 7,  # the second ``tenants``: the one that counts
        ("tenants", 0, "name"): 8,
        ("tenants", 0, "org_id"): 8,  # missing: the item that lacks it
    }
