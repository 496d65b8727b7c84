"""Fault injection for the crash tests: SIGKILL this process at a named point.

``NEWS_INGEST_KILL_AT=<point>:<n>`` kills the process the n-th time `point` is reached
(default n=1). Unset (always, outside the tests), `reached` is one dictionary lookup.
"""
from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "NEWS_INGEST_KILL_AT"
_hits: Counter = Counter()


def reached(point: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, count = spec.partition(":")
    if name != point:
        return
    _hits[point] += 1
    if _hits[point] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
