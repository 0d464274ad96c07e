"""`serve --workers N`: every worker listens on its own socket of one SO_REUSEPORT group, so
connections opened together are spread over the workers (on one shared socket the first
worker to wake accepted them all), and a port in use is refused at start."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from crm_testing.procwatch import connections_by_process, listening_sockets
from crm_testing.stack import free_port

HERE = Path(__file__).parent
WORKERS = 2
CONNECTIONS = 16  # all on one worker by chance: 2 × 2⁻¹⁶


def serve(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "serveapp.py", "serve", "--port", str(port), "--workers", str(WORKERS)],
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


async def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while listening_sockets(port) < WORKERS:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{listening_sockets(port)} of {WORKERS} workers listening:\n{stop(proc)}")
        await asyncio.sleep(0.1)


async def answered_by(port: int) -> tuple[int, asyncio.StreamWriter]:
    """The process that answers GET /pid on a connection of its own (kept open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /pid HTTP/1.1\r\nhost: test\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return int(orjson.loads(await reader.readexactly(length))["pid"]), writer


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: str = ""  # its output, once stopped


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[Server]:
    """A server with every worker listening, stopped at the end of the block."""
    port = free_port()
    server = Server(serve(port), port)
    try:
        await wait_listening(server.proc, port)
        yield server
    finally:
        server.log = stop(server.proc)


@contextlib.asynccontextmanager
async def connections(port: int) -> AsyncIterator[Counter[int]]:
    """CONNECTIONS connections opened together, each asked once: how many each process
    answered (the connections stay open inside the block)."""
    answers = await asyncio.gather(*(answered_by(port) for _ in range(CONNECTIONS)))
    try:
        yield Counter(pid for pid, _ in answers)
    finally:
        for _, writer in answers:
            writer.close()


async def test_connections_opened_together_are_spread_over_the_workers() -> None:
    async with serving() as server, connections(server.port) as by_worker:
        assert len(by_worker) == WORKERS, by_worker
        assert server.proc.pid not in by_worker  # the supervisor serves nothing itself
        # Each worker holds the connections it answered on (what the benchmark reads).
        assert connections_by_process(server.proc.pid, server.port) == dict(by_worker)
    assert "2 workers, a socket each (SO_REUSEPORT)" in server.log


async def test_a_killed_worker_is_replaced_by_one_with_a_socket_of_its_own() -> None:
    async with serving() as server:
        async with connections(server.port) as first:
            workers = set(first)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)  # its socket closes with it
        deadline = time.monotonic() + 60
        while True:
            await asyncio.sleep(0.2)
            if listening_sockets(server.port) == WORKERS:
                async with connections(server.port) as later:
                    pids = set(later)
                if len(pids) == WORKERS:
                    break
            assert time.monotonic() < deadline, "no replacement worker serving"
        assert victim not in pids and workers - {victim} < pids  # the survivor and a new one
    assert f"Child process [{victim}] died" in server.log


async def test_a_port_in_use_is_refused_at_start() -> None:
    async with serving() as first:
        second = serve(first.port)
        try:
            code = second.wait(timeout=60)
        finally:
            log = stop(second)
        assert code == 3, log
        assert f"cannot listen on 127.0.0.1:{first.port}" in log
        assert listening_sockets(first.port) == WORKERS  # the first server's, untouched
