"""Helpers shared by the benchmark scripts: machine description, timers, peak-memory sampler.

Thread settings are fixed *before* numpy is imported (the scripts import this module first):
``OMP_NUM_THREADS=1``, ``OMP_WAIT_POLICY=passive``, ``OPENBLAS_NUM_THREADS=1`` unless already set;
both edkit and the hand-written QuSpin code run under the same settings.
"""

from __future__ import annotations

import os

for _key, _value in (("OMP_NUM_THREADS", "1"), ("OMP_WAIT_POLICY", "passive"),
                     ("OPENBLAS_NUM_THREADS", "1")):
    os.environ.setdefault(_key, _value)

import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from importlib import metadata  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakSampler:
    """Sample the RSS every ``interval`` seconds in a thread; ``peak - start`` is the phase's peak."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self.start = self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def delta_gib(self) -> float:
        return round((self.peak - self.start) / 2**30, 3)


@contextmanager
def timed(out: dict, key: str):
    """Store the wall time of the block in ``out[key]`` (seconds)."""
    t = time.perf_counter()
    yield
    out[key] = round(time.perf_counter() - t, 3)


def machine() -> dict:
    """What the numbers were measured on (shared machines: load average included)."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    versions = {}
    for pkg in ("quspin", "quspin-extensions", "numpy", "scipy", "sympy", "edkit"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**30, 1),
        "python": sys.version.split()[0], "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                                    "OPENBLAS_NUM_THREADS")},
        "versions": versions,
        "note": "shared machine: other jobs were running; timings +-30%",
    }


def emit(data: dict, path: str | None) -> None:
    """Print JSON to stdout and, if ``path`` is given, write it there too."""
    text = json.dumps(data, indent=2)
    print(text)
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text + "\n")
