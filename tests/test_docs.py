"""The documents the code cites stay in step with the code: docs/design.md and docs/platform.md.

The code explains its decisions by citing sections, as ``design.md §3.2`` or ``platform.md §4.2``
(a range ``platform.md §1.2–§1.5`` cites both ends, a list ``design.md §2.4, §2.5`` each item).
A citation must name its document and a heading that exists there; one that names no document
(a bare section sign, or the old ``reference`` form) fails with its file and line. The contract
itself must not drift from the code: design.md lists every CLI command with its options, every
metric family with its type and labels, every probe outcome and every tenant state, and nothing
the code lacks. The simulator's control API (design.md §2.7) lists every ``/__sim/`` route the simulator serves,
and none it does not. The test data below spell the sign as an escape, so they are never read as
citations; the examples above are real ones and are checked like any other.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
import pytest

from grantwarden import cli
from grantwarden.base import clock
from grantwarden.policy import labels
from grantwarden.simulator import app, serving, world
from grantwarden.telemetry import exposition, metrics

ROOT = Path(__file__).resolve().parent.parent
DOCS = {"design.md": ROOT / "docs" / "design.md", "platform.md": ROOT / "docs" / "platform.md"}
SCANNED = [*sorted((ROOT / "daemon").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.py"))]
SIGN = "\u00a7"

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.MULTILINE)
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\s")
_REF = re.compile(SIGN + r"\s*(\d+(?:\.\d+)*)")
_JOIN = re.compile(r"(?:\s|[,/#\u2013\u2014-]|\band\b|\bor\b|\bto\b)*")  # between the items of one citation
_DOCUMENT = re.compile(r"(design\.md|platform\.md|RFC\s?\d+)\s*$")  # RFCs are cited, never checked


def citations(text: str) -> Iterator[tuple[int, str | None, str]]:
    """(line, document or None, section) for every section sign in ``text``; RFC sections left out."""
    refs = list(_REF.finditer(text))
    document: str | None = None
    for index, ref in enumerate(refs):
        chained = index > 0 and _JOIN.fullmatch(text, refs[index - 1].end(), ref.start())
        if not chained:
            named = _DOCUMENT.search(text, max(0, ref.start() - 40), ref.start())
            document = named.group(1) if named else None
        if document is None or document in DOCS:
            yield text.count("\n", 0, ref.start()) + 1, document, ref.group(1)


def headings(name: str) -> dict[str, str]:
    """Section number → title of the numbered headings of one document."""
    found = {}
    for match in _HEADING.finditer(DOCS[name].read_text(encoding="utf-8")):
        if number := _NUMBER.match(match.group(2) + " "):
            found[number.group(1)] = match.group(2)
    return found


def section(name: str, number: str) -> str:
    """The text of section ``number`` of a document, up to the next heading of its level or above."""
    text = DOCS[name].read_text(encoding="utf-8")
    marks = list(_HEADING.finditer(text))
    for i, mark in enumerate(marks):
        if mark.group(2).startswith(number + " "):
            level = len(mark.group(1))
            end = next((m.start() for m in marks[i + 1 :] if len(m.group(1)) <= level), len(text))
            return text[mark.end() : end]
    raise AssertionError(f"{name} has no section {number}")


def rows(text: str, header: str) -> list[list[str]]:
    """The body rows (cells) of the Markdown table in ``text`` whose first header cell is ``header``."""
    tables: list[list[list[str]]] = [[]]
    for line in text.splitlines():
        if not line.startswith("|"):
            if tables[-1]:
                tables.append([])
        elif not re.fullmatch(r"\|[\s|:-]+\|", line.strip()):
            tables[-1].append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])])
    found = [table[1:] for table in tables if table and table[0][0] == header]
    assert len(found) == 1, f"expected one table headed {header!r}, found {len(found)}"
    return found[0]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("see design.md \u00a73.2 first", [(1, "design.md", "3.2")], id="one"),
        pytest.param(
            "platform.md \u00a71.2\u2013\u00a71.5", [(1, "platform.md", "1.2"), (1, "platform.md", "1.5")], id="range"
        ),
        pytest.param(
            "design.md \u00a72.4, \u00a72.5 and \u00a72.6.",
            [(1, "design.md", "2.4"), (1, "design.md", "2.5"), (1, "design.md", "2.6")],
            id="list",
        ),
        pytest.param(
            "(platform.md \u00a72.4, \u00a73,\n    # \u00a76)",
            [(1, "platform.md", "2.4"), (1, "platform.md", "3"), (2, "platform.md", "6")],
            id="list-over-lines",
        ),
        pytest.param("reference \u00a74.2: 400", [(1, None, "4.2")], id="old-reference-form"),
        pytest.param("the grace (unknown, \u00a71.4) covers it", [(1, None, "1.4")], id="bare"),
        pytest.param("design.md \u00a72.6, reference \u00a73", [(1, "design.md", "2.6"), (1, None, "3")], id="mixed"),
        pytest.param("RFC 9110 \u00a711.6.2: one credential", [], id="rfc-not-ours"),
    ],
)
def test_citations_are_read_with_their_document(text: str, expected: list[tuple[int, str | None, str]]) -> None:
    assert list(citations(text)) == expected


def _all_citations() -> list[tuple[str, int, str | None, str]]:
    found = []
    for path in SCANNED:
        for line, document, number in citations(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), line, document, number))
    return found


def test_every_citation_names_its_document() -> None:
    vague = [f"{path}:{line}: {SIGN}{number}" for path, line, document, number in _all_citations() if document is None]
    assert not vague, "cite as design.md or platform.md, not a bare or reference section:\n" + "\n".join(vague)


def test_every_citation_names_a_heading_that_exists() -> None:
    known = {name: headings(name) for name in DOCS}
    missing = [
        f"{path}:{line}: {document} {SIGN}{number}"
        for path, line, document, number in _all_citations()
        if document is not None and number not in known[document]
    ]
    assert not missing, "no such heading:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", list(DOCS))
def test_every_heading_below_the_title_carries_a_unique_number(name: str) -> None:
    text = DOCS[name].read_text(encoding="utf-8")
    titles = [m.group(2) for m in _HEADING.finditer(text) if len(m.group(1)) > 1]
    unnumbered = [title for title in titles if not _NUMBER.match(title + " ")]
    numbers = [m.group(1) for title in titles if (m := _NUMBER.match(title + " "))]
    assert not unnumbered, f"{name}: headings without a number: {unnumbered}"
    assert len(numbers) == len(set(numbers)), f"{name}: a section number is used twice"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    for action in cli.build_parser()._actions:  # argparse offers subparsers only this way
        if isinstance(action, argparse._SubParsersAction):
            found: dict[str, argparse.ArgumentParser] = dict(action.choices)
            found["simulate"] = serving.parser()  # cli hands `simulate` to the simulator's parser
            return found
    raise AssertionError("grantwarden.cli.build_parser() has no subcommands")


def test_design_lists_every_command_and_its_options() -> None:
    listed = {ticked(row[0])[0].split()[0]: row[0] for row in rows(section("design.md", "2.1"), "command")}
    commands = _subcommands()
    assert {name for name in listed if not name.startswith("-")} == set(commands)
    for name, parser in commands.items():
        options = {o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")}
        absent = [o for o in sorted(options) if not re.search(rf"(?<![\w-]){o}(?![\w-])", listed[name])]
        assert not absent, f"design.md {SIGN}2.1 `{name}` lacks {absent}"


def _families() -> dict[str, tuple[str, frozenset[str]]]:
    """Exposed name → (type, label names) of every family a daemon registers."""
    built = metrics.Metrics(registry=prometheus_client.CollectorRegistry())
    found: dict[str, tuple[str, frozenset[str]]] = {
        f.exposed: (f.kind, frozenset(f.labels)) for f in exposition.FAMILIES
    }
    for value in vars(built).values():
        if isinstance(value, prometheus_client.metrics.MetricWrapperBase):
            # prometheus_client keeps the type and label names here, with no public accessor
            name = value._name + "_total" if value._type == "counter" else value._name  # exposed with _total
            found[name] = (str(value._type), frozenset(value._labelnames))
    return found


def test_design_lists_every_metric_family_with_its_type_and_labels() -> None:
    listed = {}
    for row in rows(section("design.md", "2.4"), "metric"):
        listed[ticked(row[0])[0]] = (row[1].split()[0], frozenset(ticked(row[2])))
    assert listed == _families()


@pytest.mark.parametrize(
    ("number", "header", "vocabulary"),
    [
        pytest.param("2.6", "outcome", labels.Outcome, id="outcomes"),
        pytest.param("2.4.1", "state", labels.State, id="states"),
    ],
)
def test_design_lists_every_label_value(
    number: str, header: str, vocabulary: type[labels.Outcome] | type[labels.State]
) -> None:
    listed = [ticked(row[0]) for row in rows(section("design.md", number), header)]
    assert sorted(cell[0] for cell in listed) == sorted(str(value) for value in vocabulary)


def _shape(path: str) -> str:
    """A route path with its placeholders anonymous: ``/__sim/orgs/{org_id}`` is ``/__sim/orgs/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("[")[0].split("?")[0])


def test_design_lists_every_simulator_control_route() -> None:
    sim = world.World(clock=clock.ManualClock())
    served = {
        (route.method, _shape(route.resource.canonical))
        for route in app.build(sim).router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/__sim/") and route.method != "HEAD"
    }
    listed: set[tuple[str, str]] = set()
    for row in rows(section("design.md", "2.7"), "route"):
        cells = ticked(row[0])
        methods = {word for cell in cells for word in re.findall(r"\b(GET|POST|DELETE|PUT|PATCH)\b", cell)}
        paths = {_shape(found) for cell in cells for found in re.findall(r"/__sim/\S*", cell)}
        listed |= {(method, path) for method in methods for path in paths}
    assert served, "the simulator serves no /__sim/ route"
    assert served <= listed, f"design.md {SIGN}2.7 lacks {sorted(served - listed)}"
    documented_paths = {path for _, path in listed}
    assert documented_paths == {path for _, path in served}, (
        f"design.md {SIGN}2.7 names routes the simulator does not serve: "
        f"{sorted(documented_paths - {path for _, path in served})}"
    )
