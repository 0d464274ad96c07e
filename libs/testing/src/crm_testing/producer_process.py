"""A benchmark's load produced from its own process, as the services' events are produced
in production (by other services, on other machines): the producer's CPU and the
interpreter's lock are not the measured service's.

    async with ProducerProcess(bootstrap, messages) as producer:  # connected, waiting
        started = time.perf_counter()
        await producer.go()  # sends every message; returns the seconds it took
"""

from __future__ import annotations

import asyncio
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from crm_events.envelope import Envelope
from crm_events.kafka import make_producer
from crm_events.topics import physical

# topic (physical), key, value, headers
Message = tuple[str, bytes, bytes, list[tuple[str, bytes]]]

_READY = b"ready\n"


def message_of(envelope: Envelope, topic: str) -> Message:
    """An envelope as the message the services' relays send: on the topic's physical name,
    keyed by its subject, structured-mode value, the extension headers."""
    return physical(topic), envelope.key, envelope.to_bytes(), envelope.kafka_headers()


class ProducerProcess:
    """A child Python process holding the messages and a connected producer; `go` makes
    it send them all (in order, one send each) and returns the seconds it took."""

    def __init__(self, bootstrap: str, messages: Sequence[Message]) -> None:
        self._bootstrap = bootstrap
        self._messages = list(messages)
        self._proc: asyncio.subprocess.Process | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    async def __aenter__(self) -> ProducerProcess:
        self._dir = tempfile.TemporaryDirectory(prefix="crm-producer-")
        path = Path(self._dir.name) / "messages.pickle"
        path.write_bytes(pickle.dumps(self._messages))
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "crm_testing.producer_process",
            self._bootstrap,
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if line != _READY:
            await self.__aexit__(None, None, None)
            raise RuntimeError(f"the producer process did not start: {line!r}")
        return self

    async def go(self) -> float:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(b"go\n")
        await self._proc.stdin.drain()
        line = await self._proc.stdout.readline()
        if await self._proc.wait() != 0 or not line:
            raise RuntimeError(f"the producer process failed (exit {self._proc.returncode})")
        return float(line)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        if self._dir is not None:
            self._dir.cleanup()


async def produce_elsewhere(bootstrap: str, messages: Sequence[Message]) -> float:
    """Send the messages from a separate process; returns the seconds the sending took."""
    async with ProducerProcess(bootstrap, messages) as producer:
        return await producer.go()


async def _child(bootstrap: str, messages: list[Message]) -> None:
    producer = make_producer(bootstrap, client_id="bench-producer")
    await producer.start()
    try:
        sys.stdout.buffer.write(_READY)
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, key, value, headers in messages
        ]
        await producer.flush()
        await asyncio.gather(*futures)
        print(time.perf_counter() - started, flush=True)
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(_child(sys.argv[1], pickle.loads(Path(sys.argv[2]).read_bytes())))
