"""What the benchmarks share: the infrastructure they need, a private topic namespace,
several instances of each service as processes, an HTTP client that spreads requests over
them the way a load balancer does, and the consumer counters each process exposes.

The instances come from `crm_testing.stack`'s public pieces: `new_stack` gives the first
instance of every service (its database, port, log and environment), and each further
instance is a copy of it on a port and log of its own, sharing the database. Replica `i`
of every service together is a `Stack`, so the chain helpers taking a `Stack` work on any.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from crm_testing.benchstack import metric_samples
from crm_testing.stack import ServiceProcess, Stack, free_port, new_stack

RESULTS = Path(__file__).resolve().parent / "results"


# Several instances per service ------------------------------------------------------------


def replica_of(first: ServiceProcess, index: int) -> ServiceProcess:
    """Another instance of a service: same database and settings, its own port and log."""
    return replace(
        first,
        port=free_port(),
        log_path=first.log_path.with_name(f"{first.name}-{index}.log"),
        extra_env=dict(first.extra_env),
        process=None,
        starts=0,
    )


@dataclass
class Fleet:
    """`replicas` instances of every service; `stacks[i]` holds instance i of each."""

    stacks: list[Stack]

    @classmethod
    def create(
        cls,
        databases: dict[str, str],
        log_dir: Path,
        *,
        replicas: int,
        extra_env: dict[str, str] | None = None,
    ) -> Fleet:
        first = new_stack(databases, log_dir, extra_env)
        stacks = [first]
        for index in range(1, replicas):
            stacks.append(Stack({n: replica_of(s, index) for n, s in first.services.items()}))
        return cls(stacks)

    def instances(self, service: str) -> list[ServiceProcess]:
        return [stack.services[service] for stack in self.stacks]

    def all(self) -> Iterator[ServiceProcess]:
        for stack in self.stacks:
            yield from stack.services.values()

    def start(self, bootstrap: str) -> None:
        for stack in self.stacks:
            stack.start(bootstrap)

    async def wait_ready(self, timeout: float = 300.0) -> None:
        await asyncio.gather(*(stack.wait_ready(timeout) for stack in self.stacks))

    def stop(self) -> None:
        for stack in self.stacks:
            stack.stop()


def instance_id(svc: ServiceProcess) -> str:
    """A short name for one process: `sla-monitor:41233`."""
    return f"{svc.name}:{svc.port}"


# Requests spread over the instances --------------------------------------------------------


class NoInstanceLeft(RuntimeError):
    pass


@dataclass
class Balancer:
    """Round-robin over a service's instances, like a load balancer with passive health
    checks: it learns that an instance is gone from a refused connection, not from the
    process table. A request that fails on the way (refused, reset, a 5xx) goes to the next
    instance with the same `Idempotency-Key`, so a write that did commit before its
    instance died is answered from the stored response instead of being done twice."""

    http: httpx.AsyncClient
    fleet: Fleet
    deadline_s: float = 120.0
    served: dict[str, int] = field(default_factory=dict)
    failovers: dict[str, int] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    _turns: dict[str, Iterator[int]] = field(default_factory=dict)

    def _next(self, service: str) -> ServiceProcess:
        instances = self.fleet.instances(service)
        turn = self._turns.setdefault(service, itertools.cycle(range(len(instances))))
        for _ in instances:
            svc = instances[next(turn)]
            if instance_id(svc) not in self.down:
                return svc
        raise NoInstanceLeft(service)

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        key: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        deadline = time.monotonic() + self.deadline_s
        delay = 0.1
        while True:
            svc = self._next(service)
            try:
                response = await self.http.request(
                    method, svc.url + path, headers=headers, **kwargs
                )
                if response.status_code < 500:
                    name = instance_id(svc)
                    self.served[name] = self.served.get(name, 0) + 1
                    return response
            except httpx.ConnectError:
                self.down.add(instance_id(svc))  # refused: nobody listens there any more
            except httpx.TransportError:
                pass  # reset or timed out on the way: retried, the key makes it safe
            self.failovers[service] = self.failovers.get(service, 0) + 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {service}{path} failed on every instance")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


# What each process exposes on /metrics ----------------------------------------------------


def consumed(metrics_text: str, group: str) -> dict[str, float]:
    """`crm_events_consumed_total` of one consumer group, summed by result
    (handled / duplicate)."""
    out: dict[str, float] = {}
    for labels, value in metric_samples(metrics_text, "crm_events_consumed_total"):
        if labels.get("consumer") == group:
            result = labels.get("result", "")
            out[result] = out.get(result, 0.0) + value
    return out
