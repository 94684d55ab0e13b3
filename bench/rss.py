"""Peak RSS of a stretch of work inside a spawned child, for the benches."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def _maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def _proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    raise OSError(f"no {field} in /proc/self/status")


class PeakRss:
    """The peak RSS of what runs between `start()` and `peak()`, and the RSS at `start()`.

    On Linux `ru_maxrss` will not do: a spawned child's starts at its parent's high-water mark
    (exec folds the old address space's peak into it), so a parent holding the floor rows would
    hide the child's growth. Instead the address space's own peak (`VmHWM`) is reset to the
    current RSS (`/proc/self/clear_refs`, "5") and read back. Elsewhere: `ru_maxrss`.
    """

    def __init__(self) -> None:
        self.proc = True
        self.baseline = 0

    def start(self) -> int:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.baseline = _proc_status_bytes("VmRSS")
        except OSError:
            self.proc = False
            self.baseline = _maxrss_bytes()
        return self.baseline

    def peak(self) -> int:
        return _proc_status_bytes("VmHWM") if self.proc else _maxrss_bytes()
