"""The stack's process controls: a second instance of a service, and a hung process."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from crm_testing.stack import ServiceProcess, new_stack


def _state(process: subprocess.Popen[bytes]) -> str:
    # /proc/<pid>/stat: "pid (comm) state ..."; T is stopped by a signal.
    return Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _wait_state(process: subprocess.Popen[bytes], wanted: set[str]) -> str:
    deadline = time.monotonic() + 5
    while (state := _state(process)) not in wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    return state


def test_a_second_instance_shares_the_database_and_settings_on_its_own_port(
    tmp_path: Path,
) -> None:
    stack = new_stack(
        {"sla-monitor": "postgresql+asyncpg://u@h/sla_x"},
        tmp_path,
        extra_env={"{PREFIX}CONSUMER_BACKOFF_MAX_SECONDS": "1.0"},
    )
    first = stack.services["sla-monitor"]
    second, third = stack.add_instance("sla-monitor"), stack.add_instance("sla-monitor")
    assert second.database_url == first.database_url
    assert second.env()["SLA_MONITOR_CONSUMER_BACKOFF_MAX_SECONDS"] == "1.0"
    assert len({first.port, second.port, third.port}) == 3
    assert [p.log_path.name for p in (second, third)] == ["sla-monitor-2.log", "sla-monitor-3.log"]
    stack.remove_instance(second)  # never started: nothing to stop
    assert stack.extra == [third]


def test_pause_hangs_the_process_and_resume_lets_it_run_on(tmp_path: Path) -> None:
    service = ServiceProcess(
        name="sleeper", port=0, database_url="", log_path=tmp_path / "sleeper.log"
    )
    service.process = subprocess.Popen(["sleep", "30"])
    try:
        service.pause()
        assert _wait_state(service.process, {"T"}) == "T"
        service.resume()
        assert _wait_state(service.process, {"S", "R"}) in {"S", "R"}
        service.pause()
        service.stop()  # stops a hung process too (resumed first, then terminated)
        assert service.process.poll() is not None
    finally:
        service.kill()
