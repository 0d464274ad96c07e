"""What the benchmarks share: the memory of server processes over a run, percentiles, the
consumers' counters from /metrics, and where results go.

Imported as `bench.common` (each benchmark puts the repository root on `sys.path`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


# -- memory ---------------------------------------------------------------------------------


def rss_kib(pid: int, field_name: str) -> int:
    """A memory figure of /proc/<pid>/status (VmRSS now, VmHWM the peak), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def family(pid: int) -> list[int]:
    """The process and its descendants (uvicorn workers under their supervisor)."""
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


class MemoryWatch:
    """RSS of named server processes (and their children) and of this driver, sampled every
    `interval` seconds while a run goes on.

    The caller either sets `progress` (0..1, e.g. items sent so far) as it goes, or leaves
    it and the quarters are taken by elapsed time between `start()` and `stop()`.
    """

    def __init__(self, roots: dict[str, int], *, interval: float = 0.25) -> None:
        self.roots = roots
        self.interval = interval
        self.progress: float | None = None
        # (seconds since start, progress or None, {pid: RSS KiB})
        self.samples: list[tuple[float, float | None, dict[int, int]]] = []
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._stopped = 0.0

    def pids(self) -> dict[int, str]:
        named = {os.getpid(): "bench driver"}
        for name, root in self.roots.items():
            for pid in family(root):
                named[pid] = name if pid == root else f"{name} child"
        return named

    def sample(self) -> None:
        at = time.monotonic() - self._started
        self.samples.append((at, self.progress, {p: rss_kib(p, "VmRSS") for p in self.pids()}))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        self._stopped = time.monotonic() - self._started
        self.sample()

    def _fraction(self, at: float, progress: float | None) -> float:
        if progress is not None:
            return progress
        return at / self._stopped if self._stopped else 1.0

    def report(self) -> dict[str, Any]:
        """Per process: its name, peak RSS (VmHWM) and the highest RSS seen up to 25, 50, 75
        and 100 % of the run, in MiB."""
        out = {}
        for pid, name in self.pids().items():
            quarters = {}
            for q in (0.25, 0.5, 0.75, 1.0):
                seen = [
                    s[pid] for at, p, s in self.samples if pid in s and self._fraction(at, p) <= q
                ]
                quarters[f"rss_mib_at_{int(q * 100)}pct"] = round(max(seen or [0]) / 1024, 1)
            out[str(pid)] = {
                "process": name
                if name in self.roots or name == "bench driver"
                else f"{name}: {process_name(pid)}",
                "peak_rss_mib": round(rss_kib(pid, "VmHWM") / 1024, 1),
                **quarters,
            }
        return out


def print_memory(memory: dict[str, Any]) -> None:
    print("memory (MiB):")
    for pid, m in memory.items():
        print(
            f"  {pid:>7} {m['process']:<60} peak {m['peak_rss_mib']:>7}  "
            f"quarters {m['rss_mib_at_25pct']}/{m['rss_mib_at_50pct']}/"
            f"{m['rss_mib_at_75pct']}/{m['rss_mib_at_100pct']}"
        )


# -- consumers' counters --------------------------------------------------------------------


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one metric in Prometheus text: (labels, value)."""
    out = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        labels: dict[str, str] = {}
        if "{" in head:
            for pair in head[head.index("{") + 1 : head.rindex("}")].split('",'):
                if "=" in pair:
                    key, val = pair.split("=", 1)
                    labels[key.strip()] = val.strip().strip('"')
        out.append((labels, float(value)))
    return out


async def consumed(http: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, Counter[str]]:
    """Per service, the events its consumers handled so far by `type/result`
    (`crm_events_consumed_total`)."""
    out: dict[str, Counter[str]] = {}
    for name, url in urls.items():
        text = (await http.get(f"{url}/metrics")).text
        counts: Counter[str] = Counter()
        for labels, value in metric_samples(text, "crm_events_consumed_total"):
            counts[f"{labels.get('type', '?')}/{labels.get('result', '?')}"] += int(value)
        out[name] = counts
    return out


async def handle_times(http: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, str]:
    """Mean time each service's consumers took per event (from their /metrics)."""
    out = {}
    for name, url in urls.items():
        text = (await http.get(f"{url}/metrics")).text
        total = sum(v for _, v in metric_samples(text, "crm_events_handle_seconds_sum"))
        count = sum(v for _, v in metric_samples(text, "crm_events_handle_seconds_count"))
        if count:
            out[name] = f"{total / count * 1000:.1f} ms × {int(count)} events"
    return out
