"""The platform's refusals, with its exact codes and message templates (platform.md §4).

API errors are an ``ErrorBody`` (message, code, status, messageParams, contextId, details,
errors; ``limit`` on some 429s); login-host errors are ``{error, description,
error_description}``. Handlers raise ``PlatformError`` or ``OAuthError``; the application's
middleware renders them with the request's correlation id as ``contextId``. Messages never
carry a token or a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from grantwarden.simulator import permissions

_UNABLE = "Unable to perform the requested action."


def bracket(items: Sequence[str]) -> str:
    """The platform's list rendering inside messages: ``[a, b]``."""
    return "[" + ", ".join(items) + "]"


class PlatformError(Exception):
    """An API refusal: HTTP status, code, message (and optional extras of the ErrorBody)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        limit: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = list(details)
        self.limit = limit

    def body(self, context_id: str) -> bytes:
        payload: dict[str, Any] = {
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "messageParams": {},
            "contextId": context_id,
            "details": self.details,
            "errors": [],
        }
        if self.limit is not None:
            payload["limit"] = dict(self.limit)
        return json.dumps(payload).encode()


class OAuthError(Exception):
    """A login-host refusal (platform.md §1.3): ``{"error", "description", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return json.dumps(
            {"error": self.error, "description": self.description, "error_description": self.description}
        ).encode()


def authentication_required() -> PlatformError:
    return PlatformError(
        401, "authentication.required", "No authentication bearer token specified in authorization header."
    )


def bad_credentials() -> PlatformError:
    return PlatformError(401, "bad.credentials", "Invalid login credentials.")


def refusal(refused: permissions.Refusal) -> PlatformError:
    code, perms, divisions = refused.code, refused.permissions, refused.divisions
    if code is permissions.Code.MISSING_PERMISSIONS:
        message = f"{_UNABLE} You are missing the following permission(s): {bracket(perms)}"
    elif code is permissions.Code.MISSING_ANY_PERMISSIONS:
        message = f"{_UNABLE} You must have at least one of the following permissions assigned: {bracket(perms)}"
    elif code is permissions.Code.MISSING_DIVISION_PERMISSION:
        message = f"{_UNABLE} You are missing the following permission '{perms[0]}' in the provided division(s)."
    else:
        message = (
            f"{_UNABLE} You must have at least one of the following permissions assigned: {bracket(perms)}"
            f" in at least one of the following division(s): {bracket(divisions)}"
        )
    return PlatformError(403, str(code), message)


def scope_not_authorized(acceptable: Sequence[str]) -> PlatformError:
    # Real capture: "App not authorized to use scope [telephony:readonly, telephony]" (platform.md §4.3).
    return PlatformError(403, "app.not.authorized.for.scope", f"App not authorized to use scope {bracket(acceptable)}")


def policy_denied(policy_ids: Sequence[str]) -> PlatformError:
    return PlatformError(
        403,
        "authz.policy.denied",
        f"{_UNABLE} Your organization's security policies have denied access. Policy ID(s): [{', '.join(policy_ids)}]",
    )


def not_a_user() -> PlatformError:
    return PlatformError(
        400,
        "not.a.user",
        "This request requires a user context. Client credentials cannot be used for requests to this resource.",
    )


def not_a_client() -> PlatformError:
    return PlatformError(
        400,
        "not.a.client",
        "This request requires a non-user context. User token cannot be used for requests to this resource.",
    )


def ip_not_authorized(address: str) -> PlatformError:
    return PlatformError(
        401, "ip.not.authorized", f"Requests originating from this IP address are not authorized: [{address}]"
    )


def missing_trustor_permissions() -> PlatformError:
    return PlatformError(403, "missing.trustor.permissions", "Missing required permission(s)")


def client_not_found() -> PlatformError:
    return PlatformError(404, "client.not.found", "Client was not found.")


def invalid_value(value: str, field: str, allowed: Sequence[str]) -> PlatformError:
    return PlatformError(
        400,
        "invalid.value",
        f"Value [{value}] is not valid for field type [{field}]. Allowable values are: {', '.join(allowed)}",
    )


def invalid_date() -> PlatformError:
    return PlatformError(
        400, "invalid.date", "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ"
    )


def malformed() -> PlatformError:
    return bad_request("The request could not be understood by the server due to malformed syntax.")


def rate_limited(retry_after: int, *, limit: Mapping[str, Any] | None = None) -> PlatformError:
    return PlatformError(
        429,
        "too.many.requests.retry.after",
        f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        headers={"Retry-After": str(retry_after)},
        limit=limit,
    )


def not_found() -> PlatformError:
    return PlatformError(404, "not.found", "The requested resource was not found.")


def bad_request(message: str, *, code: str = "bad.request", field: str | None = None) -> PlatformError:
    details = [{"fieldName": field}] if field else []
    return PlatformError(400, code, message, details=details)


def invalid_query_param(name: str, value: str) -> PlatformError:
    return PlatformError(
        400,
        "invalid.query.param.value",
        f"Value [{value}] is not valid for parameter [{name}]. Allowable values are: positive integers",
    )


def server_error(status: int) -> PlatformError:
    codes = {
        500: (
            "internal.server.error",
            "The server encountered an unexpected condition which prevented it from fulfilling the request.",
        ),
        503: (
            "service.unavailable",
            "Service Unavailable - The server is currently unavailable (because it "
            "is overloaded or down for maintenance).",
        ),
        504: ("request.timeout", "The request timed out."),
    }
    code, message = codes.get(status, ("internal.server.error", f"The server answered {status}."))
    return PlatformError(status, code, message)


def invalid_client() -> OAuthError:
    # Real capture for a client unknown on this login host (wrong region; platform.md §1.1).
    return OAuthError(401, "invalid_client", "authentication failed")


def invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)
