"""The secret values the redactor has seen: which to remember for good, which to let age out.

Two kinds, because memory must stay bounded at 10,000 tenants without forgetting a live secret:

- configured ones (each client's secret and its Basic form, an admin token) are pinned and never
  forgotten; there are as many as the configuration names. A client's secret that is replaced
  (its file rotated) is unpinned and ages out like a token;
- rolling ones (access and refresh tokens, codes) are forgotten oldest first beyond a cap that
  grows with the configured values. A live token is registered again on every use, which makes
  it the newest, so only tokens nobody uses any more reach the front.

Matching scans a text once, looking up each position's first ``MIN_LENGTH`` characters in an
index, so its cost does not grow with the number of tokens. Only ``grantwarden.base.redaction`` uses this.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

MIN_LENGTH = 4  # shorter "secrets" would shred every log line; keys and patterns still apply
ROLLING_FLOOR = 10_000  # rolling tokens kept at least, whatever the number of configured values
ROLLING_PER_CONFIGURED = 4  # and per configured value (a client's secret and its Basic form: 8 per client)
# 8 per client: its current access token and the previous one (valid until expiry), a user
# grant's refresh token and the previous one, twice over for headroom. At 10,000 tenants with admin
# clients that is 160,000 tokens, about 70 MB (some 430 bytes each, string and index included),
# reached after about 6 hours of minting.


class SecretIndex:
    """Registered values by prefix; ``capacity`` fixes the rolling cap (tests), else it grows."""

    def __init__(self, *, capacity: int | None = None) -> None:
        self._capacity = capacity
        # Oldest first, forgotten first. OrderedDict, not dict: a dict emptied from the front makes
        # next(iter()) skip every deleted slot (1.45 s instead of 0.4 s for 250,000 tokens).
        self._rolling: OrderedDict[str, None] = OrderedDict()
        self._configured: dict[str, int] = {}  # a count: two clients may share a value
        self._clients: dict[str, tuple[str, ...]] = {}  # client id -> its secret's forms
        self._by_prefix: dict[str, list[str]] = {}
        self.longest = 0  # the longest value registered: how far past a cut a secret may reach

    def __contains__(self, secret: object) -> bool:
        return secret in self._rolling or secret in self._configured

    @property
    def rolling_capacity(self) -> int:
        """How many rolling values are kept before the oldest is forgotten."""
        if self._capacity is not None:
            return self._capacity
        return max(ROLLING_FLOOR, ROLLING_PER_CONFIGURED * len(self._configured))

    def configure_client(self, client_id: str, forms: Sequence[str]) -> None:
        """Pin the forms of a client's secret; the forms it had before become rolling."""
        current = tuple(forms)
        previous = self._clients.get(client_id, ())
        if previous == current:
            return  # the usual case: the same secret at every mint
        self._clients[client_id] = current
        for value in current:
            self.pin(value)
        for value in previous:
            self._unpin(value)

    def pin(self, secret: str) -> None:
        """Remember ``secret`` for good (a configured secret)."""
        if len(secret) < MIN_LENGTH:
            return
        if secret in self._rolling:
            del self._rolling[secret]  # already indexed: from now on configured
        elif secret not in self._configured:
            self._index(secret)
        self._configured[secret] = self._configured.get(secret, 0) + 1

    def roll(self, secret: str) -> None:
        """Remember ``secret`` as the newest rolling value; forget the oldest beyond the cap."""
        if len(secret) < MIN_LENGTH or secret in self._configured:
            return
        if secret in self._rolling:
            self._rolling.move_to_end(secret)  # in use again: now the newest
            return
        self._index(secret)
        self._rolling[secret] = None
        capacity = self.rolling_capacity
        while len(self._rolling) > capacity:
            self._forget(self._rolling.popitem(last=False)[0])

    def replace(self, text: str, mark: str) -> str:
        """``text`` with every registered value replaced by ``mark``, longest match first."""
        if not self._by_prefix or len(text) < MIN_LENGTH:
            return text
        pieces: list[str] = []
        start = index = 0
        last = len(text) - MIN_LENGTH
        while index <= last:
            found = self._match_at(text, index)
            if found:
                pieces.append(text[start:index])
                pieces.append(mark)
                index += found
                start = index
            else:
                index += 1
        if not pieces:
            return text
        pieces.append(text[start:])
        return "".join(pieces)

    def _unpin(self, secret: str) -> None:
        count = self._configured.get(secret, 0)
        if count > 1:
            self._configured[secret] = count - 1
        elif count == 1:
            del self._configured[secret]
            self.roll(secret)  # no longer configured: ages out like a token

    def _index(self, secret: str) -> None:
        bucket = self._by_prefix.setdefault(secret[:MIN_LENGTH], [])
        bucket.append(secret)
        bucket.sort(key=len, reverse=True)  # longest first: a secret containing another wins
        self.longest = max(self.longest, len(secret))

    def _forget(self, secret: str) -> None:
        prefix = secret[:MIN_LENGTH]
        bucket = self._by_prefix[prefix]
        bucket.remove(secret)
        if not bucket:
            del self._by_prefix[prefix]

    def _match_at(self, text: str, index: int) -> int:
        """Length of the registered value starting at ``index``, or 0."""
        for secret in self._by_prefix.get(text[index : index + MIN_LENGTH], ()):
            if text.startswith(secret, index):
                return len(secret)
        return 0
