"""Progress lines while a run works, and the run's timeline and time per stage for its report.

The driver polls the counts the workers leave in the run's staging (`transforms.progress`)
every ``--progress_interval`` seconds and prints one line; the samples become the manifest's
``timeline`` (seconds since start, articles written). Time per stage comes from Beam's own
execution-time metrics, where the runner reports them.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, Callable

from transforms.progress import read_progress


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(counts: Counter, elapsed: float, total_files: int, rate: float | None) -> str:
    """One line: files read of the total, articles written and their rate, rejections, dropped
    copies, and the time left once every file has been read (the number of records is known)."""
    read, written = counts["files_read"], counts["written"]
    parts = [f"{read}/{total_files} files read", f"{written} articles written"]
    if rate:
        parts[-1] += f" ({rate:.1f}/s)"
    if counts["rejected"]:
        parts.append(f"{counts['rejected']} rejected")
    if counts["dropped"]:
        parts.append(f"{counts['dropped']} dropped as duplicates")
    line = f"progress {_duration(elapsed)}: " + ", ".join(parts)
    if read >= total_files and rate:
        left = counts["records_read"] - counts["skipped"] - counts["rejected"] - counts["dropped"] - written
        if left > 0:
            line += f"; about {_duration(left / rate)} left"
    return line


class ProgressReporter:
    """A thread that samples the run's progress every ``interval`` seconds and prints a line
    through ``say`` (None: sample only, for the timeline)."""

    def __init__(self, staging: str, total_files: int, interval: float, say: Callable[[str], None] | None):
        self._staging, self._total, self._interval, self._say = staging, total_files, interval, say
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.timeline: list[list[float]] = []
        self._start = 0.0

    def __enter__(self) -> "ProgressReporter":
        self._start = time.monotonic()
        if self._interval > 0:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._interval > 0:
            self.sample(print_line=False)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample(print_line=True)

    def sample(self, print_line: bool) -> None:
        elapsed = time.monotonic() - self._start
        try:
            counts = read_progress(self._staging)
        except OSError:
            return
        self.timeline.append([round(elapsed, 1), counts["written"]])
        if print_line and self._say is not None:
            self._say(progress_line(counts, elapsed, self._total, self._rate()))

    def _rate(self) -> float | None:
        """Articles written per second over the last minute of samples."""
        recent = [s for s in self.timeline if s[0] >= self.timeline[-1][0] - 60]
        (t0, n0), (t1, n1) = recent[0], recent[-1]
        if t1 - t0 <= 0 or n1 == n0:
            first = next((s for s in self.timeline if s[1] > 0), None)
            if first is None or t1 <= first[0] or n1 <= first[1]:
                return None
            t0, n0 = first
        return (n1 - n0) / (t1 - t0)


def stage_seconds(result: Any) -> dict[str, float]:
    """Seconds spent in each top-level step (Read, Clean, Entities, ...), summed over workers,
    from Beam's execution-time metrics; empty when the runner does not report them."""
    try:
        query = result.monitoring_metrics().query()
    except Exception:  # noqa: BLE001 - a runner without these metrics (or without the method)
        return {}
    totals: Counter = Counter()
    for counter in query.get("counters", []):
        if counter.key.metric.name.endswith("ptransform_execution_time:total_msecs:v1"):
            totals[counter.key.step.split("/", 1)[0]] += counter.committed or 0
    return {step: round(msecs / 1000, 2) for step, msecs in sorted(totals.items()) if msecs}
