"""From the remote layer's exceptions to the policy layer's facts.

The policy layer classifies plain facts (status, parsed error body, a transport failure) and
never sees an exception; the remote layer raises its own tree and never classifies. This module
is the seam between them, so the probe loop, the token keeper and ``check`` translate the same
way.
"""

from __future__ import annotations

import functools

from grantwarden.policy import forbidden
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.forbidden import Failure, Verdict
from grantwarden.remote import errors
from grantwarden.worker import minting


def _failure(exc: errors.RemoteError) -> Failure | None:
    if isinstance(exc, errors.Timeout):
        return Failure.TIMEOUT
    if isinstance(exc, errors.TransportError):
        return Failure.NETWORK
    if isinstance(exc, errors.MalformedResponse):
        return Failure.MALFORMED
    return None


def of_exception(exc: errors.RemoteError) -> Verdict:
    """The probe outcome a failed request stands for (``forbidden.classify`` decides)."""
    reply = exc.reply
    failure = _failure(exc)
    if reply is None:
        return forbidden.classify(status=None, facts=None, failure=failure)
    retry_after = None if reply.retry_after is None else str(int(reply.retry_after))
    return forbidden.classify(status=reply.status, facts=reply.facts, failure=failure, retry_after_header=retry_after)


@functools.lru_cache(maxsize=16)
def ok(status: int) -> Verdict:
    """The verdict of a 2xx; one frozen value per status, shared (most probes end here)."""
    return forbidden.classify(status=status, facts=None)


def token_problem(exc: BaseException | None) -> token_policy.TokenProblem:
    """Why the token endpoint gave no token (``policy.tokens.classify_failure`` decides).

    A local failure (an unreadable secret file, no stored grant) says what it is itself.
    """
    if isinstance(exc, minting.MintFailedError):
        return exc.problem
    if not isinstance(exc, errors.RemoteError):
        return token_policy.TokenProblem.UNEXPECTED
    reply = exc.reply
    failure = _failure(exc)
    problem = token_policy.classify_failure(
        status=None if reply is None else reply.status,
        facts=None if reply is None else reply.facts,
        failure=failure,
    )
    return problem or token_policy.TokenProblem.UNEXPECTED
