"""Reading YAML text: the fast reader (libyaml) must mean what the pure-Python reader always meant.

Covers: the texts on which libyaml and the pure reader disagree (a tab between tokens, a ``?``
inside an unquoted value in a flow collection, a byte-order mark starting a later line, a
comment glued to a block scalar's ``|``, an empty value tagged ``!``) read as the pure reader
reads them, value or error with its line and column; nesting deeper than ``MAX_NESTING`` is
"nested too deeply" from either reader, aliases that share a deep list included, while a list
that holds itself reads as it always did; an alias bomb reads without expanding; a value its
tag cannot read (``!!bool x``) is a YAML error at its line, not a crash; and on random texts
built from YAML's tokens, both readers give the same value or the same error.
"""

from __future__ import annotations

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
    return yamlfile._parse_pure(text)


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
    assert outcome(yamlfile.parse, text) == outcome(pure, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a: [x, y?z]\n", "line 1, column 9: YAML syntax error: expected ',' or ']', but got '?'", id="?"),
        pytest.param("a:\tb\n", "line 1, column 3: YAML syntax error: found character '\\t'", id="tab"),
    ],
)
def test_what_only_libyaml_accepts_is_refused_with_the_pure_readers_line_and_column(text: str, expected: str) -> None:
    with pytest.raises(yamlfile.UnreadableError) as caught:
        yamlfile.parse(text)
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
        yamlfile.parse("[" * depth + "]" * depth)


def test_nesting_up_to_the_limit_reads() -> None:
    depth = yamlfile.MAX_NESTING
    document = yamlfile.parse("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        document = document[0]
    assert document == []


def test_aliases_count_as_deep_as_the_list_they_point_at() -> None:
    deep = "[" * 300 + "]" * 300
    text = f"a: &deep {deep}\nb: {'[' * 150}*deep{']' * 150}\n"
    with pytest.raises(yamlfile.UnreadableError, match="nested too deeply to read"):
        yamlfile.parse(text)


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x ['?', *x]\n"])
def test_a_list_that_holds_itself_reads_as_the_pure_reader_read_it(text: str) -> None:
    document = yamlfile.parse(text)
    assert document["a"][-1] is document["a"]


def test_an_alias_bomb_is_read_without_expanding_it() -> None:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]  # 9**9 strings
    document = yamlfile.parse("\n".join(lines) + "\n")
    assert document["x8"][0][0][0][0][0][0][0][0][0] == "lol"


@pytest.mark.parametrize(
    ("text", "where", "tag"),
    [
        pytest.param("a: !!bool maybe\n", "line 1, column 4", "!!bool", id="bool"),
        pytest.param('a:\n  b: !!int ""\n', "line 2, column 6", "!!int", id="int"),
        pytest.param("a: [1, !!float '']\n", "line 1, column 8", "!!float", id="float"),
        pytest.param("a: !!timestamp x\n", "line 1, column 4", "!!timestamp", id="timestamp"),
    ],
)
def test_a_value_its_tag_cannot_read_is_a_yaml_error_at_its_line(text: str, where: str, tag: str) -> None:
    with pytest.raises(yamlfile.UnreadableError) as caught:
        yamlfile.parse(text)
    assert str(caught.value) == f"{where}: YAML syntax error: not a valid {tag} value"


def test_an_ordinary_file_reads_as_the_pure_reader_reads_it() -> None:
    text = yaml.safe_dump(
        {
            "server": {"listen": "127.0.0.1:0", "admin_token": {"env": "ADMIN"}},
            "defaults": {"probe_interval": "60s", "refresh": {"at_fraction": 0.75}},
            "tenants": [{"name": f"t{i}", "org_id": f"o-{i}", "region": "us-east-1"} for i in range(20)],
        }
    )
    assert yamlfile.parse(text) == pure(text)


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
    assert outcome(yamlfile.parse, text) == outcome(pure, text)
