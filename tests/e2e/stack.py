"""The four services as real processes (uvicorn), each with its own fresh database, sharing
the test session's broker and topic namespace. Driven only through HTTP and Kafka."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from crm_events.topics import NAMESPACE_ENV

SERVICES = ("contract-registry", "obligation-tracker", "sla-monitor", "billing-reconciler")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    port: int
    database_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, bootstrap: str) -> None:
        prefix = self.module.upper() + "_"
        env = {
            **os.environ,
            f"{prefix}DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            NAMESPACE_ENV: os.environ[NAMESPACE_ENV],
            f"{prefix}RELAY_IDLE_INTERVAL_SECONDS": "0.1",
            f"{prefix}CONSUMER_BACKOFF_INITIAL_SECONDS": "0.05",
        }
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    started_in: float = 0.0

    def url(self, name: str) -> str:
        return self.services[name].url

    async def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.services)
        async with httpx.AsyncClient(timeout=2) as client:
            while pending:
                for name in list(pending):
                    svc = self.services[name]
                    if svc.process is not None and svc.process.poll() is not None:
                        raise RuntimeError(f"{name} exited during start-up:\n{svc.log_tail()}")
                    try:
                        if (await client.get(svc.url + "/readyz")).status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    tails = "\n".join(f"--- {n}\n{self.services[n].log_tail()}" for n in pending)
                    raise RuntimeError(f"not ready within {timeout}s: {pending}\n{tails}")
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop()


def new_stack(databases: dict[str, str], log_dir: Path) -> Stack:
    return Stack(
        {
            name: ServiceProcess(
                name=name, port=_free_port(), database_url=url, log_path=log_dir / f"{name}.log"
            )
            for name, url in databases.items()
        }
    )
