"""structlog configuration: one JSON object per line, secrets redacted last, before rendering.

design.md §2.5 fixes the shape: ``timestamp`` (ISO 8601 UTC, milliseconds, ``Z``), ``level``,
``event``, then context. Exceptions are formatted to text first and redacted as text, so a token
inside an exception message or a traceback's locals never reaches the stream. Records from the
standard library (aiohttp, asyncio's "Task exception was never retrieved") go through the same
processors, so nothing bypasses redaction.

Only ``cli`` calls ``configure`` (style.md: library code never sets up logging); tests call it
with a ``StringIO`` or use ``pipeline`` with ``structlog.testing.capture_logs``. The processors
are pure functions over the event dict; the only global state is structlog's and logging's own
configuration, replaced wholesale on every call (SIGHUP reloads call it again).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

from grantwarden.base import clock as clocks
from grantwarden.base import redaction

Format = Literal["json", "console"]
LEVELS = ("debug", "info", "warning", "error", "critical")
_FIRST = ("timestamp", "level", "event")


class Timestamper:
    """Adds ``timestamp`` from the injected clock, so tests on a ManualClock get stable lines."""

    def __init__(self, clock: clocks.Clock) -> None:
        self._clock = clock

    def __call__(self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        stamp = self._clock.utcnow().isoformat(timespec="milliseconds")
        event_dict["timestamp"] = stamp.replace("+00:00", "Z")
        return event_dict


def order_fields(logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """``timestamp``, ``level``, ``event`` first, then the context in the order it was bound."""
    head = {key: event_dict[key] for key in _FIRST if key in event_dict}
    return head | {key: value for key, value in event_dict.items() if key not in head}


def pipeline(*, redactor: redaction.Redactor, clock: clocks.Clock) -> list[Processor]:
    """Every processor before the renderer; also what tests pass to ``capture_logs``."""
    return [*_enrich(clock), *_finish(redactor)]


def _enrich(clock: clocks.Clock) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        Timestamper(clock),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,  # exceptions become text here, redacted next
    ]


def _finish(redactor: redaction.Redactor) -> list[Processor]:
    return [redactor, order_fields]


def configure(
    *,
    level: str,
    fmt: Format,
    redactor: redaction.Redactor,
    stream: TextIO | None = None,
    clock: clocks.Clock | None = None,
) -> None:
    """Send structlog and stdlib logging at ``level`` or above to ``stream`` (stdout) as ``fmt``.

    Loggers are not cached, so a reconfigure (SIGHUP) reaches loggers bound at import time.

    Raises ValueError for an unknown level or format (the settings layer validates first; this
    guards programming errors).
    """
    name = level.lower()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    out = stream or sys.stdout
    enrich, finish = _enrich(clock or clocks.LoopClock()), _finish(redactor)
    renderer = _renderer(fmt, out)
    structlog.configure(
        processors=[*enrich, *finish, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(name),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(name, out, enrich=enrich, finish=[*finish, renderer])


def _renderer(fmt: Format, stream: TextIO) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    if fmt == "console":
        colors = bool(getattr(stream, "isatty", lambda: False)())
        return structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False)
    raise ValueError(f"unknown log format {fmt!r}; expected json or console")


class _Handler(logging.StreamHandler[TextIO]):
    """Marks the one root handler this module owns, so a reconfigure replaces it."""


def _route_stdlib(level: str, stream: TextIO, *, enrich: list[Processor], finish: list[Processor]) -> None:
    """Render stdlib records like structlog's: same fields, same redaction, same stream."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *enrich],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish],
    )
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
