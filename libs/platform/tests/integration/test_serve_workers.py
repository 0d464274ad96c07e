"""`serve --workers N`: every worker listens on its own socket of one SO_REUSEPORT group, so
connections opened together are spread over the workers (on one shared socket the first
worker to wake accepted them all), and a port in use is refused at start."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
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


async def test_connections_opened_together_are_spread_over_the_workers() -> None:
    port = free_port()
    proc = serve(port)
    try:
        await wait_listening(proc, port)
        answers = await asyncio.gather(*(answered_by(port) for _ in range(CONNECTIONS)))
        by_worker = Counter(pid for pid, _ in answers)
        assert len(by_worker) == WORKERS, by_worker
        assert proc.pid not in by_worker  # the supervisor serves nothing itself
        # Each worker holds the connections it answered on (what the benchmark reads).
        assert connections_by_process(proc.pid, port) == dict(by_worker)
        for _, writer in answers:
            writer.close()
    finally:
        log = stop(proc)
    assert "2 workers, a socket each (SO_REUSEPORT)" in log


async def test_a_killed_worker_is_replaced_by_one_with_a_socket_of_its_own() -> None:
    port = free_port()
    proc = serve(port)
    try:
        await wait_listening(proc, port)
        first = await asyncio.gather(*(answered_by(port) for _ in range(CONNECTIONS)))
        workers = {pid for pid, _ in first}
        for _, writer in first:
            writer.close()
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)  # its socket closes with it
        deadline = time.monotonic() + 60
        while True:
            await asyncio.sleep(0.2)
            if listening_sockets(port) == WORKERS:
                answers = await asyncio.gather(*(answered_by(port) for _ in range(CONNECTIONS)))
                pids = {pid for pid, _ in answers}
                for _, writer in answers:
                    writer.close()
                if len(pids) == WORKERS:
                    break
            assert time.monotonic() < deadline, "no replacement worker serving"
        assert victim not in pids and workers - {victim} < pids  # the survivor and a new one
    finally:
        log = stop(proc)
    assert f"Child process [{victim}] died" in log


async def test_a_port_in_use_is_refused_at_start() -> None:
    port = free_port()
    first = serve(port)
    try:
        await wait_listening(first, port)
        second = serve(port)
        try:
            code = second.wait(timeout=60)
        finally:
            log = stop(second)
        assert code == 3, log
        assert f"cannot listen on 127.0.0.1:{port}" in log
        assert listening_sockets(port) == WORKERS  # the first server's, untouched
    finally:
        stop(first)
