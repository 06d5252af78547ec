"""Real processes for integration tests: started on free ports, logs kept, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.database import PROJECT_ROOT

__all__ = ["ARTIFACTS", "ChildProcess", "free_port", "start_python_module"]

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_python_module(
    name: str, module: str, env: Mapping[str, str], *args: str, stdout_pipe: bool = False
) -> ChildProcess:
    """Runs `python -m module` with `env` added to this environment; stderr goes to a log file."""
    (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "logs" / f"{name}-{os.getpid()}-{free_port()}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE if stdout_pipe else log,
        stderr=log,
        cwd=PROJECT_ROOT,
    )
    log.close()
    return ChildProcess(name, process, log_path)
