"""The token hand-off's settings (design.md §2.8): the ``handoff`` section.

Kept beside ``models`` (which uses it), as ``proxysettings`` is. The hand-off is off unless the
file has a ``handoff`` section; a TCP listener needs a ``bearer_token`` (a unix socket, created
0660, may go without); the optional file sink writes one ``<tenant>.json`` per tenant with a mode
of at most 0640. No I/O: secrets stay references.
"""

from __future__ import annotations

from pathlib import Path

import pydantic

from grantwarden.config.secretrefs import Secret


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class HandoffFiles(_Model):
    directory: Path
    """One ``<tenant>.json`` per owned tenant whose token may be handed out (a directory of its own)."""
    mode: str = pydantic.Field(default="0640", pattern=r"^0?[0-7]{3}$")
    """Octal file mode; at most 0640: read and write for the owner, read for the group, nothing for others."""

    @pydantic.field_validator("mode")
    @classmethod
    def _no_more_than_owner_and_group_read(cls, value: str) -> str:
        if int(value, 8) & ~0o640:
            raise ValueError(f"mode {value} gives more than 0640: tokens are for the owner and its group to read only")
        return value

    @property
    def file_mode(self) -> int:
        return int(self.mode, 8)


class HandoffSettings(_Model):
    """The token hand-off (design.md §2.8): the integration takes each org's token from here."""

    listen: str = pydantic.Field(pattern=r"^(unix:/\S{1,106}|[^\s:]*:\d{1,5})$")
    """``unix:/PATH`` (a socket, mode 0660) or ``HOST:PORT``: a listener of its own, not server.listen."""
    bearer_token: Secret | None = pydantic.Field(default=None, validate_default=True)
    """The token every hand-off request must carry; required on TCP, optional on a unix socket."""
    files: HandoffFiles | None = None

    @pydantic.field_validator("bearer_token")
    @classmethod
    def _tcp_needs_a_token(cls, value: Secret | None, info: pydantic.ValidationInfo) -> Secret | None:
        listen = info.data.get("listen")  # absent when listen is itself wrong
        if value is None and listen is not None and not listen.startswith("unix:"):
            raise ValueError(
                f"a hand-off on TCP ({listen}) needs bearer_token: anyone who reaches the port could take tokens"
            )
        return value

    @property
    def socket_path(self) -> Path | None:
        return Path(self.listen.removeprefix("unix:")) if self.listen.startswith("unix:") else None
