"""The one place that touches aiohttp: send through the tenant's gate, read, map every failure.

Everything above gets either a ``Received`` 2xx response or a ``remote.errors`` exception; no
aiohttp exception crosses this module (style.md principle 5). Redirects are not followed (the
platform does not redirect API calls, and a redirect must not carry a bearer token elsewhere).
Bodies are read whole up to ``MAX_BODY_BYTES`` because the largest listing pages are well
under it and a runaway body must not exhaust memory. Called by ``oauth`` and ``client`` only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp
import pydantic

import grantwarden
from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.remote import errors, gate

MAX_BODY_BYTES = 16 * 1024 * 1024
USER_AGENT = f"grantwarden/{grantwarden.__version__}"
_BASE_HEADERS = {"Accept": "application/json", "User-Agent": USER_AGENT}


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One frozen ``ClientTimeout`` per distinct value (a few per daemon), not one per request."""
    return aiohttp.ClientTimeout(total=seconds)


_Model = TypeVar("_Model", bound=pydantic.BaseModel)


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """Where one org lives: its API host and its login host (both may be the same URL).

    The region table that maps ``us-east-1`` to hosts belongs to settings (platform.md §1.1).
    """

    api_base_url: str
    login_base_url: str

    def api(self, path: str) -> str:
        return self.api_base_url.rstrip("/") + path

    def login(self, path: str) -> str:
        return self.login_base_url.rstrip("/") + path


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """A complete 2xx response, not yet parsed or snapshotted (tokens first get registered)."""

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False


class Transport:
    """Sends requests on the shared session; keyword-only dependencies (style.md principle 6)."""

    def __init__(self, *, session: aiohttp.ClientSession, clock: clocks.Clock, redactor: redaction.Redactor) -> None:
        self._session = session
        self._clock = clock
        self._redactor = redactor

    async def send(
        self,
        method: str,
        url: str,
        *,
        gate: gate.Gate,
        timeout_s: float,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        body: Any = None,
        token_endpoint: bool = False,
    ) -> Received:
        """One request; returns a 2xx or raises. A 429's Retry-After raises the gate first.

        ``gate.StoppedError`` (the tenant is stopping) passes through as it is: it is no failure
        of the platform, and only the tenant's loop handles it.
        """
        path = urllib.parse.urlsplit(url).path
        await gate.wait(self._clock)
        try:
            async with self._session.request(
                method,
                url,
                params=params,
                data=form,
                json=body,
                headers={**_BASE_HEADERS, **headers},
                timeout=_timeout(timeout_s),
                allow_redirects=False,
            ) as response:
                content, truncated = await _read(response)
                received = Received(method, path, response.status, response.headers, content, truncated)
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            raise errors.Timeout(self._fault(method, path, f"no response within {timeout_s:g} s", exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise errors.ConnectionFailed(self._fault(method, path, "connection failed", exc)) from exc
        if 200 <= received.status < 300:
            return received
        reply = self.snapshot(received)
        if reply.status == 429 and reply.retry_after is not None:
            gate.hold(now=self._clock.now(), seconds=reply.retry_after)
        raise errors.for_reply(reply, token_endpoint=token_endpoint)

    def snapshot(self, received: Received) -> errors.Reply:
        """The printable ``Reply`` of a response (call after registering any secrets it holds)."""
        return errors.snapshot(
            method=received.method,
            path=received.path,
            status=received.status,
            headers=received.headers,
            body=received.body,
            redactor=self._redactor,
        )

    def brief(self, received: Received) -> errors.Reply:
        """A 2xx's ``Reply`` without its body: nothing to redact, nothing to parse."""
        return errors.Reply(
            method=received.method,
            path=received.path,
            status=received.status,
            correlation_id=received.headers.get(errors.CORRELATION_HEADER),
        )

    def json(self, received: Received) -> Any:
        """The parsed body; None for an empty one; ``MalformedResponse`` when not JSON."""
        if received.truncated:
            raise errors.MalformedResponse(self.snapshot(received), f"body over {MAX_BODY_BYTES} bytes")
        if not received.body.strip():
            return None
        try:
            return json.loads(received.body)
        except (ValueError, RecursionError) as exc:
            raise errors.MalformedResponse(self.snapshot(received), "body is not JSON") from exc

    def model(self, received: Received, model: type[_Model], data: Any = None) -> _Model:
        """``data`` (or the parsed body) as ``model``, or ``MalformedResponse`` naming the fields."""
        payload = self.json(received) if data is None else data
        try:
            return model.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise errors.MalformedResponse(self.snapshot(received), self._problems(model, exc)) from None

    def _problems(self, model: type[pydantic.BaseModel], exc: pydantic.ValidationError) -> str:
        # include_input=False: the offending value may be a token. "field (problem)", never
        # "field: problem": the redactor reads "access_token: Field" as a secret and hides "Field".
        found = [
            f"{'.'.join(str(part) for part in error['loc']) or '(body)'} ({error['msg']})"
            for error in exc.errors(include_input=False, include_url=False)[:5]
        ]
        return self._redactor.redact_text(f"not a {model.__name__}: " + "; ".join(found))

    def _fault(self, method: str, path: str, what: str, exc: BaseException) -> str:
        # A dash, not a colon, after the path: logs redact every line again, and the redactor
        # reads "/oauth/token: no response" as the key "token" with the secret value "no".
        detail = self._redactor.redact_text(str(exc))
        cause = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return f"{method} {path} — {what} ({cause})"


async def _read(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The body, and whether it was cut at ``MAX_BODY_BYTES``."""
    length = response.content_length
    if length is not None and length <= MAX_BODY_BYTES:
        return await response.read(), False  # the usual case: one read, no chunk loop
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES], True
    return b"".join(chunks), False
