"""Where each benchmark leaves its figures, and how `python -m bench` turns them into one report.

A benchmark module calls `record()` once with its figures (each a ratio measured side by side in
that run, with its goal) and the resident memory of the processes it ran, read before it stopped
them. `python -m bench` starts from an empty folder, runs every module, then `write_report()` joins
what they left into bench/results/latest.json and a Markdown table (latest.md).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

__all__ = ["RESULTS", "Figure", "clear", "record", "rss_mib", "write_report"]

RESULTS = Path(__file__).parent / "results"
_PARTS = RESULTS / "parts"


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # what was measured, as a reader of the table would say it
    value: str  # the figure, formatted
    goal: str = ""  # the goal, formatted ("" when the figure is for reference)
    met: bool | None = None  # None: no goal


def rss_mib(pid: int) -> float:
    """Resident memory of a running process and its children, in MiB."""
    process = psutil.Process(pid)
    total = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
    return round(total / 2**20, 1)


def clear() -> None:
    shutil.rmtree(_PARTS, ignore_errors=True)


def record(benchmark: str, figures: list[Figure], memory_mib: Mapping[str, float], raw: Mapping[str, object]) -> None:
    """Leaves one benchmark's figures for the report; `raw` holds everything else it printed."""
    _PARTS.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": benchmark,
        "figures": [asdict(f) for f in figures],
        "memory_mib": memory_mib,
        "raw": raw,
    }
    (_PARTS / f"{benchmark}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")


def _machine() -> dict[str, object]:
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _markdown(report: dict[str, object]) -> str:
    machine = report["machine"]
    assert isinstance(machine, dict)
    lines = [
        f"Measured {report['date']} on {machine['host']}: {machine['cpus']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']} (a shared machine: absolute times vary, ratios are measured side by side).",
        "",
        "| benchmark | figure | measured | goal | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    memory: list[str] = []
    benchmarks = report["benchmarks"]
    assert isinstance(benchmarks, dict)
    for name, part in benchmarks.items():
        for figure in part["figures"]:
            met = {True: "yes", False: "**no**", None: ""}[figure["met"]]
            lines.append(f"| {name} | {figure['name']} | {figure['value']} | {figure['goal']} | {met} |")
        memory.extend(f"{process} {mib:.0f} MiB ({name})" for process, mib in part["memory_mib"].items())
    if memory:
        lines += ["", "Resident memory after the runs: " + ", ".join(memory) + "."]
    failed = report.get("failed")
    if isinstance(failed, list) and failed:
        lines += ["", f"Failed to run: {', '.join(str(m) for m in failed)}."]
    return "\n".join(lines) + "\n"


def write_report(failed: list[str]) -> str:
    """Joins the parts into latest.json and latest.md; returns the Markdown."""
    parts = {}
    for path in sorted(_PARTS.glob("*.json")) if _PARTS.exists() else []:
        part = json.loads(path.read_text())
        parts[part["benchmark"]] = part
    report: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "benchmarks": parts,
        "failed": failed,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = _markdown(report)
    (RESULTS / "latest.md").write_text(markdown)
    return markdown
