"""`python -m bench` (what `make bench` runs): every benchmark, one after the other, each as its
own process so that one's load does not linger into the next. Each prints ratios measured side by
side in one run; absolute times are printed for reference, never asserted. At the end the figures
of all of them go to bench/results/latest.json and a Markdown table (bench/results/latest.md)."""

from __future__ import annotations

import platform
import subprocess
import sys
import time

from bench.results import RESULTS, clear, write_report

_BENCHMARKS = ("bench.zoom_client", "bench.registration", "bench.attendance", "bench.gateway")


def main() -> int:
    sys.stdout.write(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}\n")
    clear()
    failed = []
    started_all = time.monotonic()
    for module in _BENCHMARKS:
        sys.stdout.write(f"\n=== {module} ===\n")
        sys.stdout.flush()
        started = time.monotonic()
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
        sys.stdout.write(f"({module} took {time.monotonic() - started:.0f} s)\n")
    sys.stdout.write(f"\n=== summary ({time.monotonic() - started_all:.0f} s; {RESULTS}/latest.json, latest.md) ===\n")
    sys.stdout.write(write_report(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
