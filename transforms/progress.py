"""Progress counts a run's workers leave where the driver can read them while the run works.

Beam's metrics reach the driver only when the local runner has finished, and every runner
reports them differently; a small JSON file per worker process under the run's staging
(``_progress/``), rewritten at most every `FLUSH_SECONDS` and at the end of each bundle, works
on every runner whose workers can write the output. The driver sums the files
(`read_progress`); staging is never published, so they vanish with it.
"""
from __future__ import annotations

import collections
import json
import os
import posixpath
import socket
import threading
import time
import uuid

import fsspec

PROGRESS_DIR = "_progress"
FLUSH_SECONDS = 2.0
#: Counters kept per process: a streaming job runs one staging folder per window.
_MAX_RUNS = 4
_COUNTERS: "collections.OrderedDict[str, ProgressCounter]" = collections.OrderedDict()
_LOCK = threading.Lock()


class ProgressCounter:
    """One worker process's counts for one run, written to its own file."""

    def __init__(self, output: str):
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self._path = posixpath.join(output.rstrip("/"), PROGRESS_DIR, name)
        self._counts: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._flushed = 0.0
        self._dirty = False

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n
            self._dirty = True
        if time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            data = json.dumps(self._counts).encode()
            self._dirty = False
            self._flushed = time.monotonic()
        try:
            with fsspec.open(self._path, "wb", auto_mkdir=True) as out:
                out.write(data)
        except OSError:  # progress is a courtesy: never fail a bundle for it
            pass


def counter(output: str) -> ProgressCounter:
    """This process's counter for the run writing to ``output``."""
    with _LOCK:
        found = _COUNTERS.get(output)
        if found is None:
            found = _COUNTERS[output] = ProgressCounter(output)
            while len(_COUNTERS) > _MAX_RUNS:
                _COUNTERS.popitem(last=False)
        return found


def read_progress(output: str) -> collections.Counter:
    """The sum of every worker's latest counts for the run writing to ``output``."""
    total: collections.Counter = collections.Counter()
    fs, root = fsspec.core.url_to_fs(output)
    for path in fs.glob(posixpath.join(root.rstrip("/"), PROGRESS_DIR, "*.json")):
        try:
            total.update(json.loads(fs.cat_file(path)))
        except (OSError, ValueError):  # being rewritten: the next look sees it
            continue
    return total
