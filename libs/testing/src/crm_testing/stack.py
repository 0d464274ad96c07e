"""Processes for end-to-end, fault and benchmark runs: the four services as real uvicorn
processes (each with its own database), and, for fault runs, a private PostgreSQL and Kafka
that can be restarted without disturbing anyone else's."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from crm_events.registry import SCHEMA_BASE_ENV
from crm_events.topics import NAMESPACE_ENV
from crm_testing.auth import ADMIN_KEY
from crm_testing.webhooks import TRACKER_ENV

SERVICES = ("contract-registry", "obligation-tracker", "sla-monitor", "billing-reconciler")
REPO_ROOT = Path(__file__).resolve().parents[4]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    port: int
    database_url: str
    log_path: Path
    bootstrap: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        prefix = self.module.upper() + "_"
        return {
            **os.environ,
            f"{prefix}DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            NAMESPACE_ENV: os.environ.get(NAMESPACE_ENV, ""),
            "CRM_ADMIN_API_KEY": ADMIN_KEY,  # the key the test clients send
            f"{prefix}RELAY_IDLE_INTERVAL_SECONDS": "0.1",
            f"{prefix}CONSUMER_BACKOFF_INITIAL_SECONDS": "0.05",
            # obligation-tracker's secrets key and the loopback allow-list of the receivers
            # tests run on 127.0.0.1 (other services ignore them).
            **TRACKER_ENV,
            **{k.replace("{PREFIX}", prefix): v for k, v in self.extra_env.items()},
        }

    def start(self, bootstrap: str | None = None) -> None:
        if bootstrap is not None:
            self.bootstrap = bootstrap
        log = self.log_path.open("ab")
        self.starts += 1
        log.write(f"\n===== start #{self.starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve", "--port", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, like a crashed host."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process hangs (no heartbeats, no answers) but keeps its sockets,
        its open transactions and its state, like a host stalled by a long GC or swap."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: the hung process carries on where it stopped, unaware of the gap."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()  # a paused process would not act on SIGTERM
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

    async def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
                try:
                    if (await client.get(self.url + "/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.2)


@dataclass
class Stack:
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    started_in: float = 0.0
    # Further instances of a service (same database, same consumer groups, own port).
    extra: list[ServiceProcess] = field(default_factory=list)

    def url(self, name: str) -> str:
        return self.services[name].url

    def add_instance(self, name: str) -> ServiceProcess:
        """Another instance of `name`, sharing its database and consumer groups (so the
        groups' partitions are split between them); call start() on it."""
        first = self.services[name]
        number = 2 + sum(1 for p in self.extra if p.name == name)
        instance = ServiceProcess(
            name=name,
            port=free_port(),
            database_url=first.database_url,
            log_path=first.log_path.with_name(f"{name}-{number}.log"),
            bootstrap=first.bootstrap,
            extra_env=dict(first.extra_env),
        )
        self.extra.append(instance)
        return instance

    def remove_instance(self, instance: ServiceProcess) -> None:
        instance.stop()
        self.extra.remove(instance)

    def start(self, bootstrap: str) -> None:
        for svc in self.services.values():
            svc.start(bootstrap)

    async def wait_ready(self, timeout: float = 120.0) -> None:
        await asyncio.gather(*(s.wait_ready(timeout) for s in self.services.values()))

    def stop(self) -> None:
        for svc in [*self.extra, *self.services.values()]:
            svc.stop()


def new_stack(
    databases: dict[str, str], log_dir: Path, extra_env: dict[str, str] | None = None
) -> Stack:
    services = {
        name: ServiceProcess(
            name=name,
            port=free_port(),
            database_url=url,
            log_path=log_dir / f"{name}.log",
            extra_env=dict(extra_env or {}),
        )
        for name, url in databases.items()
    }
    # Events name their payload schema by a URI this stack serves (every service does;
    # the registry's, when it runs), so a test can resolve `dataschema` like a consumer.
    base = services.get("contract-registry") or next(iter(services.values()))
    for svc in services.values():
        svc.extra_env.setdefault(SCHEMA_BASE_ENV, f"{base.url}/schemas/events")
    return Stack(services)


@dataclass
class PrivateInfra:
    """A PostgreSQL cluster and a Kafka broker of our own (scripts/postgres.sh, kafka.sh),
    on free ports and in a fresh state directory, so a test may restart them."""

    state_dir: Path
    pg_port: int = field(default_factory=free_port)
    kafka_port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CRM_STATE_DIR": str(self.state_dir),
            "PG_PORT": str(self.pg_port),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            # Restarts happen while the machine is busy with the whole stack and workload.
            "KAFKA_START_TIMEOUT_SECONDS": "300",
        }

    def _script(self, name: str, *args: str) -> None:
        subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / f"{name}.sh"), *args],
            env=self._env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def server_url(self) -> str:
        return f"postgresql+asyncpg://crm:crm@127.0.0.1:{self.pg_port}/postgres"

    def start(self) -> None:
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        self.state_dir.mkdir(parents=True)
        self.state_dir.chmod(0o755)
        self._script("postgres", "start")
        self._script("kafka", "start")

    def stop_kafka(self) -> None:
        self._script("kafka", "stop")

    def start_kafka(self) -> None:
        self._script("kafka", "start")

    def restart_kafka(self, down_seconds: float = 0.0) -> None:
        self.stop_kafka()
        time.sleep(down_seconds)
        self.start_kafka()

    def restart_postgres(self, down_seconds: float = 0.0) -> None:
        self._script("postgres", "stop")
        time.sleep(down_seconds)
        self._script("postgres", "start")

    def stop(self) -> None:
        for name in ("kafka", "postgres"):
            try:
                self._script(name, "stop")
            except subprocess.CalledProcessError:
                pass
