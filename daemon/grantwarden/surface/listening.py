"""Where the hand-off and the in-path proxy listen: a unix socket of mode 0660, or a TCP port.

A unix socket is their usual place (a pod's shared ``emptyDir``): whoever may open it may take
tokens, or send requests with them, so its mode must be right from its first moment. It is bound
under a temporary name in the same directory, given mode 0660, then renamed over the configured
path (as an atomic file write would be): no instant exists in which it is reachable with the
process umask's mode. A stale socket of an earlier run is replaced; any other file there is
refused, never clobbered. At stop the socket is removed, if it is still the one this process bound.

Called by ``app.handoff`` with the app of ``surface.handoff`` and by ``surface.proxylistener``
with the proxy's; knows nothing of tokens. ``setting`` names the key in every error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import stat
from pathlib import Path

from aiohttp import web

SOCKET_MODE = 0o660
SHUTDOWN_TIMEOUT_S = 2.0


@dataclasses.dataclass(eq=False)
class Running:
    runner: web.AppRunner
    url: str  # http://HOST:PORT, or unix:PATH
    socket_path: Path | None = None
    _inode: int | None = None

    async def stop(self) -> None:
        try:
            await self.runner.cleanup()
        finally:
            path = self.socket_path
            with contextlib.suppress(FileNotFoundError):
                if path is not None and path.lstat().st_ino == self._inode:
                    path.unlink()


def bind_unix(path: Path, setting: str = "handoff.listen") -> tuple[socket.socket, int]:
    """A listening-ready unix socket at ``path`` with mode 0660 from its first moment, and its inode."""
    if not path.parent.is_dir():
        raise OSError(f"{setting}: the directory {path.parent} does not exist")
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(f"{setting}: {path} exists and is not a socket; refusing to replace it")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.binding")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temporary))
        os.chmod(temporary, SOCKET_MODE)
        os.replace(temporary, path)
        inode = path.lstat().st_ino
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return sock, inode


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); an empty host means every interface."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen must be HOST:PORT, got {listen!r}")
    return host, int(port)


async def start(app: web.Application, listen: str, *, setting: str = "handoff.listen") -> Running:
    """Serve ``app`` on ``listen`` (``unix:/PATH`` or ``HOST:PORT``, port 0 picks one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        if listen.startswith("unix:"):
            path = Path(listen.removeprefix("unix:"))
            sock, inode = bind_unix(path, setting)
            await web.SockSite(runner, sock).start()
            return Running(runner, f"unix:{path}", path, inode)
        host, port = parse_listen(listen)
        await web.TCPSite(runner, host or None, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = int(runner.addresses[0][1])
    return Running(runner, f"http://{host if host not in ('', '0.0.0.0') else '127.0.0.1'}:{bound}")
