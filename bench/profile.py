"""A sampling profile of a benchmarked process, read by py-spy from outside it (no code inside the
service changes), summarised as where its CPU time goes: by library, and the hottest functions.

    with profiled(pid, RESULTS / "profile-x.txt"):
        ...the measured work...
    print("\\n".join(summary(RESULTS / "profile-x.txt")))
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["profiled", "summary"]

# The first folder of a frame's file names its library; these get a clearer name.
_NAMES = {
    "httpcore": "httpcore (HTTP/1.1 under httpx)",
    "h11": "h11 (HTTP parsing)",
    "google": "protobuf (Python part)",
    "common": "rollcall common/",
    "registration_service": "rollcall registration_service/",
    "attendance_service": "rollcall attendance_service/",
    "gateway": "rollcall gateway/",
}


@contextmanager
def profiled(pid: int, output: Path, rate: int = 100) -> Iterator[None]:
    """Samples `pid` with py-spy while the block runs; collapsed stacks go to `output`."""
    spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    command = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", str(output)]
    command.append("--native")  # C frames too: grpc's and protobuf's C code would otherwise hide in Python callers
    # Native frames need py-spy to pause the process for each sample: the profiled run is slower.
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        _, errors = recorder.communicate(timeout=60)
        if not output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {errors.decode(errors='replace')[-500:]}")


def _library(frame: str) -> str:
    """`name (folder/file.py:line)` -> the folder (a library); native frames (`--native`) name
    their shared object or are C code of the interpreter."""
    where = frame[frame.rfind("(") + 1 : frame.rfind(":")] if "(" in frame else ""
    if "/" not in where:
        if where.endswith(".py"):
            return "Python standard library"
        return "native code (C extensions, the interpreter)"
    folder = where.split("/", 1)[0]
    if folder.endswith(".so") or ".so." in folder:
        return "native code (C extensions, the interpreter)"
    return _NAMES.get(folder, folder)


def summary(collapsed: Path, top: int = 12) -> list[str]:
    """Self time by library and the hottest functions, as shares of the process's busy samples
    (py-spy leaves out threads that wait, such as the event loop in epoll, unless asked)."""
    by_library: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        samples = int(count)
        total += samples
        by_library[_library(leaf)] += samples
        by_function[leaf] += samples
    if total == 0:
        return ["  (no busy samples)"]
    lines = [f"  {total} busy samples; self time by library:"]
    lines += [f"    {share / total:6.1%}  {name}" for name, share in by_library.most_common()]
    lines.append("  hottest functions (self time):")
    lines += [f"    {share / total:6.1%}  {name}" for name, share in by_function.most_common(top)]
    return lines
