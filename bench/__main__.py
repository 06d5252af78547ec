"""`python -m bench` (what `make bench` runs): every benchmark, one after the other, each as its
own process so that one's load does not linger into the next. Each prints ratios measured side by
side in one run; absolute times are printed for reference, never asserted."""

from __future__ import annotations

import platform
import subprocess
import sys
import time

_BENCHMARKS = ("bench.zoom_client", "bench.registration", "bench.attendance", "bench.gateway")


def main() -> int:
    sys.stdout.write(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}\n")
    failed = []
    for module in _BENCHMARKS:
        sys.stdout.write(f"\n=== {module} ===\n")
        sys.stdout.flush()
        started = time.monotonic()
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
        sys.stdout.write(f"({module} took {time.monotonic() - started:.0f} s)\n")
    if failed:
        sys.stdout.write(f"\nfailed: {', '.join(failed)}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
