"""Memory of running processes, read from /proc, sampled while a benchmark runs.

`MemoryWatch` follows named root processes and their children (a server with workers is a
small tree) plus the driver itself. Each sample carries the seconds since `start()` and the
run's progress (0..1, when the driver sets it), so a benchmark can report the RSS of each
process at each quarter of its work (`report`) or per named tree in time slices (`window`).
"""

from __future__ import annotations

import asyncio
import os
import time
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


def _tcp_inodes(port: int, state: str) -> set[int]:
    """Inodes of the TCP sockets with local port `port` in `state` (/proc/net/tcp's hex
    code: "0A" listening, "01" established)."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def listening_sockets(port: int) -> int:
    """Sockets listening on `port` (a server whose workers listen each on its own: one per
    worker that has finished its start-up)."""
    return len(_tcp_inodes(port, "0A"))


def connections_by_process(root: int, port: int) -> dict[int, int]:
    """Established connections to `port` held by each process of `root`'s tree (a server's
    workers: how the kernel spread the clients' connections)."""
    established = _tcp_inodes(port, "01")
    out: dict[int, int] = {}
    for pid in family(root):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        held = 0
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            held += target.startswith("socket:[") and int(target[8:-1]) in established
        if held:
            out[pid] = held
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
        named = {os.getpid(): DRIVER}
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

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per named tree (its processes summed) and the driver: the largest and the last RSS
        sampled from `start` to `end` seconds after `start()`, in MiB."""
        inside = [(at, rss) for at, _, rss in self.samples if start <= at < end]
        names = self.pids()

        def tree(rss: dict[int, int], name: str) -> int:
            return sum(v for pid, v in rss.items() if names.get(pid, "").split(" child")[0] == name)

        out = {}
        for name in [*self.roots, DRIVER]:
            sizes = [tree(rss, name) for _, rss in inside]
            out[name] = {
                "max_rss_mib": mib(max(sizes, default=0)),
                "last_rss_mib": mib(sizes[-1] if sizes else 0),
            }
        return out

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
                if name in self.roots or name == DRIVER
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


def mib(kib: int) -> float:
    return round(kib / 1024, 1)
