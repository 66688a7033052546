"""The in-path proxy's allow-list: which request targets may reach a tenant's org, and which not.

A reverse proxy that holds every tenant's token is a confused deputy waiting to happen, so a
request is forwarded only when its target, read strictly as it was sent, matches a rule of the
tenant's blueprint (``proxy_allow``, design.md §2.9). ``parse`` reads the raw request target
and refuses every trick instead of normalising it: an absolute URI, a fragment, a backslash,
characters outside printable ASCII, ``.`` and ``..`` segments, empty segments (``//``, a
trailing ``/``), path parameters (``;``) and percent-encoded separators, dots, percents or
controls. A tricky target is refused, never rewritten into an allowed one, and only
``/api/v2/…`` paths can ever be allowed. Segments are matched as sent (percent-encoded), so an
encoded letter never matches a literal rule segment.

Rules: ``*`` is one segment, ``**`` zero or more, anything else a literal segment. Pure: the
configuration validates rules with ``rule_problem``; ``surface.proxyforward`` calls the rest.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
import re
from collections.abc import Iterable, Sequence

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ANY_METHOD = "*"
ONE, MANY = "*", "**"
API = ("api", "v2")
TENANT = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # as config.models.TENANT_NAME
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")  # anything but printable ASCII, space included
_LITERAL = re.compile(r"^[A-Za-z0-9._~:@!$'()+,=-]+$")
_PERCENT = re.compile(r"%(..)?", re.DOTALL)
_HEX = re.compile(r"^[0-9A-Fa-f]{2}$")
_ID = re.compile(r"^(?=.*\d)[0-9A-Fa-f-]{8,}$|^\d+$")
_ENCODED = {0x2F: "encoded_separator", 0x5C: "encoded_separator", 0x3B: "encoded_separator"}
_ENCODED |= {0x3F: "encoded_separator", 0x23: "encoded_separator", 0x2E: "encoded_dot", 0x25: "double_encoding"}
MAX_OPERATION_SEGMENTS = 12

REASONS = {
    "absolute_uri": "the request target names a scheme or host; send only the path, /t/TENANT/api/v2/...",
    "bad_character": "the request target holds a character outside printable ASCII (a space, a control, non-ASCII)",
    "fragment": "the request target holds a fragment (#)",
    "backslash": "the request target holds a backslash",
    "bad_percent": "a % in the path is not followed by two hex digits",
    "encoded_separator": "the path holds a percent-encoded separator (%2F, %5C, %3B, %3F or %23)",
    "encoded_dot": "the path holds a percent-encoded dot (%2E)",
    "double_encoding": "the path holds a percent-encoded percent sign (%25)",
    "encoded_control": "the path holds a percent-encoded control or non-ASCII byte",
    "path_parameter": "the path holds a ; (path parameters are refused)",
    "empty_segment": "the path holds an empty segment (// or a trailing /)",
    "dot_segment": "the path holds a . or .. segment",
    "no_tenant": "the path must start with /t/TENANT/",
    "bad_tenant": "the tenant name in /t/TENANT/ is not a valid tenant name",
    "not_api_v2": "only /api/v2/... paths are proxied: /t/TENANT/api/v2/...",
}
"""Why a target is refused: a label (``Refusal.reason``) and the sentence shown to the caller."""


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A request target that passed ``parse``: the tenant and the platform path, both as sent."""

    tenant: str
    segments: tuple[str, ...]  # of the platform path: ("api", "v2", ...)
    query: str  # raw, without the "?"; "" when there is none

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments)

    @property
    def upstream(self) -> str:
        """Path and query for the platform, byte for byte as the caller sent them."""
        return self.path + "?" + self.query if self.query else self.path


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # a key of REASONS

    @property
    def detail(self) -> str:
        return REASONS[self.reason]


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    method: str  # one of METHODS, or ANY_METHOD
    pattern: tuple[str, ...]  # segments; ONE and MANY are wildcards
    prefix: tuple[str, ...] | None = None  # literals then a final MANY: the segments must start so
    literal: bool = False  # no wildcard at all: the segments must be the pattern

    def matches(self, segments: tuple[str, ...]) -> bool:
        if self.literal:
            return segments == self.pattern
        if self.prefix is not None:
            return segments[: len(self.prefix)] == self.prefix
        return _match(self.pattern, segments)


def parse(raw: str) -> Target | Refusal:
    """The target of ``/t/TENANT/api/v2/...[?query]`` exactly as sent, or why it is refused."""
    if not raw.startswith("/"):
        return Refusal("absolute_uri")
    if _UNPRINTABLE.search(raw):
        return Refusal("bad_character")
    for char, reason in (("#", "fragment"), ("\\", "backslash")):
        if char in raw:
            return Refusal(reason)
    path, _, query = raw.partition("?")
    segments = path[1:].split("/")
    problem = _percent_problem(path) if "%" in path else None
    if (problem := problem or _segment_problem(path, segments)) is not None:
        return Refusal(problem)
    if len(segments) < 2 or segments[0] != "t":
        return Refusal("no_tenant")
    if not TENANT.match(segments[1]):
        return Refusal("bad_tenant")
    rest = tuple(segments[2:])
    if len(rest) < 3 or rest[:2] != API:
        return Refusal("not_api_v2")
    return Target(segments[1], rest, query)


def _segment_problem(path: str, segments: Sequence[str]) -> str | None:
    if ";" in path:
        return "path_parameter"
    if "" in segments:
        return "empty_segment"
    if "." in segments or ".." in segments:
        return "dot_segment"
    return None


def _percent_problem(path: str) -> str | None:
    for match in _PERCENT.finditer(path):
        digits = match.group(1)
        if digits is None or not _HEX.match(digits):
            return "bad_percent"
        value = int(digits, 16)
        if value in _ENCODED:
            return _ENCODED[value]
        if value < 0x20 or value >= 0x7F:
            return "encoded_control"
    return None


def path_problem(path: str) -> str | None:
    """What is wrong with a ``proxy_allow`` rule's path, or None (the configuration's check)."""
    if not path.startswith("/api/v2/"):
        return f"path {path!r} must start with /api/v2/ (only platform API paths are proxied)"
    for segment in path[len("/api/v2/") :].split("/"):
        if segment in (ONE, MANY):
            continue
        if not segment:
            return f"path {path!r} has an empty segment (// or a trailing /)"
        if "*" in segment:
            return f"path {path!r}: a wildcard is a whole segment, * (one) or ** (any number)"
        if segment in (".", "..") or not _LITERAL.match(segment):
            return f"path {path!r}: segment {segment!r} is not a plain path segment"
    return None


@functools.lru_cache(maxsize=256)
def compile_rules(rules: tuple[tuple[str, str], ...]) -> tuple[Rule, ...]:
    """(method, path) pairs, as configured and already validated, to matchable rules."""
    return tuple(_rule(method, tuple(path[1:].split("/"))) for method, path in rules)


def _rule(method: str, pattern: tuple[str, ...]) -> Rule:
    """A rule with its quick form, when it has one: every rule a proxied request meets is matched."""
    wild = {ONE, MANY} & set(pattern)
    if not wild:
        return Rule(method, pattern, literal=True)
    if pattern[-1] == MANY and not {ONE, MANY} & set(pattern[:-1]):
        return Rule(method, pattern, prefix=pattern[:-1])
    return Rule(method, pattern)


def allows(rules: Iterable[Rule], method: str, segments: tuple[str, ...]) -> bool:
    """Whether some rule names this method (or ``*``) and matches these segments."""
    return any((rule.method == method or rule.method == ANY_METHOD) and rule.matches(segments) for rule in rules)


def _match(pattern: Sequence[str], segments: Sequence[str]) -> bool:
    """Segment glob: ``*`` one segment, ``**`` zero or more; literals compare exactly.

    Without ``**`` a pairwise comparison; with it, one pass per pattern segment over the
    positions still reachable (never exponential, whatever the caller sends)."""
    if MANY not in pattern:
        return len(pattern) == len(segments) and all(p in (ONE, s) for p, s in zip(pattern, segments, strict=True))
    if pattern[-1] == MANY and MANY not in pattern[:-1]:  # the usual "/api/v2/x/**": a prefix
        head = pattern[:-1]
        return len(segments) >= len(head) and all(p in (ONE, s) for p, s in zip(head, segments, strict=False))
    reach = [True] + [False] * len(segments)  # reach[j]: the pattern so far matches segments[:j]
    for head in pattern:
        if head == MANY:
            reach = list(itertools.accumulate(reach, operator.or_))
        else:
            reach = [False] + [reach[j] and head in (ONE, segments[j]) for j in range(len(segments))]
    return reach[-1]


def operation(method: str, segments: Sequence[str]) -> str:
    """A bounded name for the operation: ``GET /api/v2/users/{id}``, ids and encoded segments
    replaced, at most ``MAX_OPERATION_SEGMENTS`` segments. For status records and log lines."""
    named = ["{id}" if _ID.match(s) or "%" in s or len(s) > 40 else s for s in segments[:MAX_OPERATION_SEGMENTS]]
    tail = "/…" if len(segments) > MAX_OPERATION_SEGMENTS else ""
    return f"{method} /{'/'.join(named)}{tail}"
