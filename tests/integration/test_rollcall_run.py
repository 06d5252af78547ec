"""`rollcall run` brings the whole stack up on embedded defaults and Ctrl-C takes it all down."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.support.grpc_health import is_serving
from tests.support.processes import ARTIFACTS, free_port


@dataclass
class Run:
    process: subprocess.Popen[str]
    output: list[str]
    ports: dict[str, int]


def _env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ZOOM_", "ROLLCALL_"))}
    env.pop("DATABASE_URL", None)  # the embedded default is what this test is about
    env.update(
        ROLLCALL_DATA_DIR=str(data_dir),
        ROLLCALL_REGISTRATION_PORT=str(ports["registration"]),
        ROLLCALL_ATTENDANCE_PORT=str(ports["attendance"]),
        ROLLCALL_GATEWAY_PORT=str(ports["gateway"]),
        ROLLCALL_EMULATOR_PORT=str(ports["emulator"]),
        ROLLCALL_REGISTRATION_METRICS_PORT=str(ports["registration_metrics"]),
        ROLLCALL_ATTENDANCE_METRICS_PORT=str(ports["attendance_metrics"]),
    )
    return env


def _start(data_dir: Path) -> Run:
    ports = {
        name: free_port()
        for name in ("registration", "attendance", "gateway", "emulator", "registration_metrics", "attendance_metrics")
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("rollcall")), "run"],
        env=_env(data_dir, ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if line.startswith("rollcall is running"):
            # Read the address lines that follow the banner.
            for _ in range(6):
                output.append(process.stdout.readline())
            return Run(process, output, ports)
    raise AssertionError("rollcall run exited before it was running:\n" + "".join(output))


def _stop(run: Run) -> float:
    children = psutil.Process(run.process.pid).children(recursive=True)
    started = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    run.process.wait(timeout=15)
    took = time.monotonic() - started
    _, alive = psutil.wait_procs(children, timeout=5)
    if run.process.stdout is not None:
        run.process.stdout.close()
    assert not alive, f"left behind: {[p.pid for p in alive]}"
    return took


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # Under the project, never /tmp or /root: the embedded server opens permissions on parents.
    path = ARTIFACTS / f"run-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_run_starts_everything_lists_services_and_stops_on_ctrl_c(data_dir: Path) -> None:
    run = _start(data_dir)
    try:
        text = "".join(run.output)
        assert "zoom emulator" in text
        loaded = re.search(r"demo school    loaded \((\d+) users, (\d+) meetings added", text)
        assert loaded is not None
        assert int(loaded.group(1)) > 100
        assert int(loaded.group(2)) == 15
        assert is_serving(f"127.0.0.1:{run.ports['registration']}", "rollcall.registration.v1.RegistrationService")
        assert is_serving(f"127.0.0.1:{run.ports['attendance']}", "rollcall.attendance.v1.AttendanceService")
    finally:
        took = _stop(run)
    assert run.process.returncode == 0
    assert took < 5


def test_a_second_run_reuses_the_data_and_adds_nothing(data_dir: Path) -> None:
    run = _start(data_dir)
    try:
        assert "loaded (0 users, 0 meetings added this time)" in "".join(run.output)
    finally:
        _stop(run)
