"""Memory of running processes, read from /proc, sampled while a benchmark runs.

`MemoryWatch` follows named root processes and their children (a service started through
`uv run` is a small tree) plus the driver itself. Each sample carries the wall-clock second
and the run's progress (0..1, set by the driver), so a benchmark can report the RSS at each
quarter of its work (`by_quarter`) or in fixed time slices (`window`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DRIVER = "bench driver"


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A `/proc/<pid>/status` memory field in KiB (VmRSS now, VmHWM peak); 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def family(pid: int) -> list[int]:
    """The process and all its descendants."""
    out = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for kid in kids:
        out += family(int(kid))
    return out


def process_name(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return " ".join(p.decode() for p in cmd if p)[:80]
    except OSError:
        return "?"


@dataclass
class Sample:
    at: float  # time.monotonic()
    progress: float
    rss_kib: dict[str, int]  # per root name: the sum over its process tree


@dataclass
class MemoryWatch:
    """RSS of some process trees (name → root pid) and of this driver, every `interval` s."""

    roots: Mapping[str, int]
    interval: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    progress: float = 0.0
    _task: asyncio.Task[None] | None = None
    _peak_kib: dict[str, int] = field(default_factory=dict)

    def sample(self) -> Sample:
        trees = {name: family(pid) for name, pid in self.roots.items()}
        trees[DRIVER] = [os.getpid()]
        rss = {name: sum(rss_kib(p) for p in pids) for name, pids in trees.items()}
        for name, pids in trees.items():
            peak = sum(rss_kib(p, "VmHWM") for p in pids)
            self._peak_kib[name] = max(self._peak_kib.get(name, 0), peak)
        out = Sample(time.monotonic(), self.progress, rss)
        self.samples.append(out)
        return out

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.sample()

    def names(self) -> list[str]:
        return [*self.roots, DRIVER]

    def by_quarter(self) -> dict[str, dict[str, Any]]:
        """Per process tree: its peak RSS (the kernel's high-water mark, summed over the tree)
        and the largest RSS sampled up to 25/50/75/100 % of the run's progress."""
        out: dict[str, dict[str, Any]] = {}
        for name in self.names():
            quarters = {}
            for q in (0.25, 0.5, 0.75, 1.0):
                seen = [s.rss_kib.get(name, 0) for s in self.samples if s.progress <= q]
                quarters[f"rss_mib_at_{int(q * 100)}pct"] = mib(max(seen or [0]))
            out[name] = {"peak_rss_mib": mib(self._peak_kib.get(name, 0)), **quarters}
        return out

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per process tree: the largest and the last RSS sampled in [start, end)
        (monotonic seconds)."""
        inside = [s for s in self.samples if start <= s.at < end]
        return {
            name: {
                "max_rss_mib": mib(max((s.rss_kib.get(name, 0) for s in inside), default=0)),
                "last_rss_mib": mib(inside[-1].rss_kib.get(name, 0) if inside else 0),
            }
            for name in self.names()
        }


def mib(kib: int) -> float:
    return round(kib / 1024, 1)
