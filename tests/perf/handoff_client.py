"""The load of benchmark 6: ``GET /v1/tenants/{t}/token`` at a fixed rate over keep-alive connections.

``python -m tests.perf.handoff_client --socket PATH --tenants FILE --rate 2000 --seconds 20 --out FILE``
opens ``--connections`` keep-alive connections to a unix socket and sends requests open-loop:
request i is due at start + i/rate, round robin over the tenants in FILE (one name a line), on the
first idle connection. It writes, per request, the round trip (from just before the request is
written to the end of its body) and the delay from its due time to the end of its body (the first
plus any wait for an idle connection: what a caller of a too-slow server would see), and the
statuses. A minimal HTTP/1.1 client on asyncio streams, so that the client's own cost stays small
beside the server's and the figures are the server's, not aiohttp's client's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from pathlib import Path


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status, time.perf_counter() - started


async def run(socket: str, tenants: list[str], rate: float, seconds: float, connections: int) -> dict[str, object]:
    requests = [f"GET /v1/tenants/{name}/token HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() for name in tenants]
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_unix_connection(socket))
    total = int(rate * seconds)
    round_trips: list[float] = []
    delays: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()

    async def send(index: int, due: float) -> None:
        connection = await idle.get()
        status, round_trip = await _one(*connection, requests[index % len(requests)])
        idle.put_nowait(connection)
        round_trips.append(round_trip)
        delays.append(time.perf_counter() - due)
        statuses[status] += 1

    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    for index in range(total):
        due = start + index / rate
        wait = due - time.perf_counter()
        if wait > 0.0005:
            await asyncio.sleep(wait)
        task = asyncio.create_task(send(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    elapsed = time.perf_counter() - start
    while not idle.empty():
        _, writer = idle.get_nowait()
        writer.close()
    return {"round_trips": round_trips, "delays": delays, "statuses": dict(statuses), "elapsed_s": elapsed}


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.handoff_client", description=__doc__)
    p.add_argument("--socket", required=True)
    p.add_argument("--tenants", required=True, help="a file with one tenant name a line")
    p.add_argument("--rate", type=float, default=2000.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    tenants = Path(args.tenants).read_text().split()
    result = asyncio.run(run(args.socket, tenants, args.rate, args.seconds, args.connections))
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
