"""Reliability suites: a short version of each runs in `make test`, the long one with
ROLLCALL_SOAK=1 (`make soak`).

Every random choice comes from a seed that is printed in the summary and in failure messages;
ROLLCALL_RELIABILITY_SEED=N replays it. Each suite adds its figures to a summary printed at the
end of the session and written to tests/artifacts/reliability/<suite>.json.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pytest

from tests.support.database import fresh_database
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.processes import ARTIFACTS

SOAK = os.environ.get("ROLLCALL_SOAK") == "1"
# A new seed per session unless given; decorators (hypothesis's @seed) need it at import time.
BASE_SEED = int(os.environ.get("ROLLCALL_RELIABILITY_SEED") or secrets.randbelow(2**31))
_T = TypeVar("_T")


def by_mode(short: _T, soak: _T) -> _T:
    """The short version's value in `make test`, the long one's under ROLLCALL_SOAK=1."""
    return soak if SOAK else short


@dataclass(frozen=True)
class SuiteReport:
    suite: str
    title: str
    lines: tuple[str, ...]


_REPORTS = pytest.StashKey[list[SuiteReport]]()
Report = Callable[[str, str, Sequence[str], Mapping[str, object]], None]


@pytest.fixture(scope="session")
def base_seed() -> int:
    """The seed every suite derives its choices from."""
    return BASE_SEED


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest, base_seed: int) -> Report:
    """Adds a suite's summary to the end of the session's output and its figures to a JSON file."""
    reports = request.config.stash.setdefault(_REPORTS, [])

    def add(suite: str, title: str, lines: Sequence[str], figures: Mapping[str, object]) -> None:
        mode = "soak" if SOAK else "short"
        reports.append(SuiteReport(suite, f"{title} ({mode}, seed {base_seed})", tuple(lines)))
        folder = ARTIFACTS / "reliability"
        folder.mkdir(parents=True, exist_ok=True)
        document = {"suite": suite, "mode": mode, "seed": base_seed, **figures}
        (folder / f"{suite}-{mode}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for suite in config.stash.get(_REPORTS, []):
        terminalreporter.write_sep("-", suite.title)
        for line in suite.lines:
            terminalreporter.write_line(line)


HEALTHY: dict[str, object] = {
    "faults": {"server_error": 0, "rate_limit": 0, "reset": 0, "lost_response": 0},
    "latency_ms": 0,
    "jitter_ms": 0,
}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The suites' own database: workers of the other folders' long-lived service processes
    (pointed at other emulators) would otherwise claim these jobs' items."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def emulator(base_seed: int) -> Iterator[EmulatorProcess]:
    """One Zoom emulator for the reliability session (Pro limits, as the replicas are told)."""
    with running_emulator("--plan", "pro", "--seed", str(base_seed)) as process:
        yield process


@pytest.fixture(autouse=True)
def healthy_emulator_after(emulator: EmulatorProcess) -> Iterator[None]:
    """Each suite leaves the shared emulator without faults or latency."""
    yield
    emulator.admin().put("/_emulator/config", json=HEALTHY).raise_for_status()


def fault_total(emulator: EmulatorProcess) -> int:
    """Faults the emulator has injected so far (5xx, 429, resets, lost answers)."""
    faults: dict[str, int] = emulator.admin().get("/_emulator/state").json()["faults"]
    return sum(faults.values())
