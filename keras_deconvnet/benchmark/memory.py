"""Memory of this process: its resident size, a peak sampled by a thread, what is available."""

import contextlib
import ctypes
import ctypes.util
import gc
import os
import threading
from pathlib import Path

_SAMPLE_SECONDS = 0.005


def rss_bytes() -> int | None:
    """The resident memory of this process (Linux `/proc/self/statm`), or None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_free_memory() -> None:
    """Collects garbage and hands the C heap's free pages back to the system (glibc's
    `malloc_trim`), so that the memory a later step allocates shows in its resident size."""
    gc.collect()
    with contextlib.suppress(Exception):
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


class PeakRSS:
    """A thread that samples `rss_bytes()` every 5 ms while the `with` block runs.

    Example:
        >>> with PeakRSS() as peak:
        ...     work()
        >>> peak.bytes  # the largest sample, or None without /proc
    """

    def __init__(self, interval: float = _SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.bytes = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def _record(self) -> None:
        current = rss_bytes()
        if current is not None:
            self.bytes = max(self.bytes or 0, current)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._record()


def available_memory_bytes() -> int | None:
    """`MemAvailable` of /proc/meminfo, or None where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None
