"""Keep secrets out of every line the daemon writes: logs, error messages, reply snapshots.

design.md §2.5: access tokens, refresh tokens, client secrets, admin tokens and Authorization
headers never reach a log line, a metric, the status page or an error message. One ``Redactor``
is created by the runtime and passed to whoever mints, resolves or prints secrets. It combines
three nets, because each alone has holes:

1. keys: a value under ``authorization``, ``client_secret``, ``*_token`` … is replaced whole;
2. values: every secret the daemon has seen is registered with ``add()`` and replaced wherever it
   appears, also in its ``Basic base64(id:secret)`` form; configured secrets are remembered for
   good, tokens age out beyond a cap (``secretindex``), so memory stays bounded;
3. patterns: ``Bearer <token>``, ``Basic <base64>`` and ``key=value`` / ``"key": "value"`` pairs
   under secret keys, for secrets that were never registered (a body echoing one back).

It is a structlog processor (``__call__``), and ``redact_text`` serves exception formatting and
the remote layer's reply snapshots. It holds no module state and must never raise.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from grantwarden.base import secretindex

REDACTED = "[redacted]"

# Exact key names (lower case, "-" read as "_") whose values are secret, and suffixes that make a
# key secret. Precise on purpose: token_type, token_expires_at and expires_in stay readable.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "secret",
        "password",
        "token",
        "code_verifier",
        "authorization_code",
        "assertion",
        "api_key",
        "apikey",
    }
)
_SECRET_SUFFIXES = ("_token", "_secret", "_password")

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]{16,}=*")  # 16+: tokens, not prose
_BASIC = re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/]{8,}={0,2})")
_B64_MARK = re.compile(r"[0-9+/=]")  # prose after "Basic" has none of these; base64 nearly always does
_JSON_SCALAR = re.compile(r"null|true|false|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_KEYED = re.compile(
    r"""(?<![\w-])(?P<key>[A-Za-z][\w-]*+)(?P<sep>["']?\s*[:=]\s*["']?)"""  # linear: whole words only
    r"""(?P<value>(?:(?i:bearer|basic)\s+)?[^\s"'&,;{}\[\]][^\s"'&,;}\]]*)"""
)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key or ``key=value`` name holds a secret (precise, not substring)."""
    name = key.lower().replace("-", "_")
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def basic_credentials(client_id: str, secret: str) -> str:
    """``base64(id:secret)``, the ``Authorization: Basic`` form of a client's credentials."""
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


class Redactor:
    """The registry of known secrets (a ``secretindex.SecretIndex``) and the rules that hide them.

    ``capacity`` fixes how many tokens are remembered (tests); by default the cap grows with the
    configured secrets registered.
    """

    def __init__(self, *, capacity: int | None = None) -> None:
        self._known = secretindex.SecretIndex(capacity=capacity)

    def add(self, secret: str | None, *, client_id: str | None = None, configured: bool = False) -> None:
        """Register a secret. With ``client_id`` it is that client's configured secret, remembered
        for good with its ``Basic`` credential form (until the client's secret changes);
        ``configured`` pins any other secret from the config (an admin token). Anything else is a
        token: remembered until newer ones push it out, registered again at every use.
        """
        if not secret:
            return
        if client_id is not None:
            self._known.configure_client(client_id, (secret, basic_credentials(client_id, secret)))
        elif configured:
            self._known.pin(secret)
        else:
            self._known.roll(secret)

    @property
    def longest(self) -> int:
        """Length of the longest registered secret: how far past a cut a secret may reach."""
        return self._known.longest

    @property
    def rolling_capacity(self) -> int:
        """How many tokens are remembered before the oldest is forgotten."""
        return self._known.rolling_capacity

    def __contains__(self, secret: object) -> bool:
        return secret in self._known

    def redact_text(self, text: str) -> str:
        """``text`` with registered secrets, bearer/basic credentials and keyed secrets hidden."""
        text = self._known.replace(text, REDACTED)
        text = _KEYED.sub(_keyed_replacement, text)  # before BEARER: takes "Bearer x" whole
        text = _BEARER.sub(rf"\1\2{REDACTED}", text)
        return _BASIC.sub(_basic_replacement, text)

    def redact(self, value: object) -> object:
        """A copy of ``value`` safe to print: strings redacted, containers walked, others stringified.

        Numbers, booleans and None pass unchanged so JSON keeps its types; any other object
        (an exception, a model) becomes redacted text here rather than an unredacted ``repr``
        in the renderer.
        """
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {self._key(key): self._under(key, item) for key, item in value.items()}
        if isinstance(value, tuple):
            if len(value) == 2 and isinstance(value[0], str):  # a (name, value) pair: headers, forms
                return (self._key(value[0]), self._under(value[0], value[1]))
            return tuple(self.redact(item) for item in value)
        if isinstance(value, list | set | frozenset):
            return [self.redact(item) for item in value]
        try:
            shown = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else str(value)
        except Exception:  # noqa: BLE001 -- a broken __str__ must not make a log call raise
            shown = f"<unprintable {type(value).__name__}>"
        return self.redact_text(shown)

    def __call__(self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        """structlog processor: runs after exceptions are formatted to text, before rendering."""
        return {self._key(key): self._under(key, item) for key, item in event_dict.items()}

    def _under(self, key: object, value: object) -> object:
        if value is not None and isinstance(key, str) and is_secret_key(key):
            return REDACTED
        return self.redact(value)

    def _key(self, key: object) -> object:
        return self.redact_text(key) if isinstance(key, str) else key


def _basic_replacement(match: re.Match[str]) -> str:
    """Hide ``Basic <b64>`` when it looks like credentials, keep prose ("Basic authentication")."""
    candidate = match.group(3)
    if _B64_MARK.search(candidate) or _decodes_to_pair(candidate):
        return f"{match.group(1)}{match.group(2)}{REDACTED}"
    return match.group(0)


def _decodes_to_pair(candidate: str) -> bool:
    try:
        return b":" in base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return False


def _keyed_replacement(match: re.Match[str]) -> str:
    """Hide the value of a secret key; JSON literals after ``:`` stay, so JSON stays parsable."""
    key, sep, value = match.group("key", "sep", "value")
    if not is_secret_key(key) or REDACTED[:-1] in value:
        return match.group(0)
    if ":" in sep and _JSON_SCALAR.fullmatch(value):
        return match.group(0)
    return f"{key}{sep}{REDACTED}"
