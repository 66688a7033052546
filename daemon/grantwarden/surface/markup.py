"""The status page's small pieces of markup: escaping, durations, relative times, tables.

Why apart: both the page (``pages``) and a tenant's card (``cards``) build HTML from the same
pieces, and the one rule that keeps the page safe lives here: every untrusted value (tenant names
from configuration, messages from the platform) goes through ``escape`` (``html.escape``) on its
way into the markup; ``table`` takes cells that are already escaped. Times are shown relative to
the clock's ``now`` that the caller passes, with the ISO time as the ``<time>`` element's title.

What it must not do: read the clock, or know what a tenant's state means. Callers: ``pages``,
``cards``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from grantwarden.worker import statusjson


def escape(value: object) -> str:
    """Escape anything for HTML text and attribute values; None shows as a dash."""
    return "—" if value is None else html.escape(str(value), quote=True)


def duration_text(seconds: float) -> str:
    """``42 s``, ``5 min``, ``17 h 3 min``, ``2 d 4 h``: coarse enough to read at a glance."""
    whole = int(abs(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def relative(at: float | None, now: float, *, never: str = "never") -> str:
    if at is None:
        return never
    return f"in {duration_text(at - now)}" if at > now else f"{duration_text(now - at)} ago"


def expiry_text(expires_at: float | None, now: float) -> str:
    """``in 17 h 3 min`` or ``expired 5 min ago``: a token at its expiry instant is expired."""
    if expires_at is None:
        return "no token yet"
    if expires_at > now:
        return f"in {duration_text(expires_at - now)}"
    return f"expired {duration_text(now - expires_at)} ago"


def time_element(at: float | None, now: float) -> str:
    stamp = statusjson.iso(at)
    if stamp is None:
        return "—"
    return f'<time datetime="{escape(stamp)}" title="{escape(stamp)}">{escape(relative(at, now))}</time>'


def table(title: str, heads: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already-escaped cells; nothing when there are no rows."""
    if not rows:
        return ""
    head = "".join(f"<th>{escape(name)}</th>" for name in heads)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    heading = f"<h4>{escape(title)}</h4>" if title else ""
    return f"{heading}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
