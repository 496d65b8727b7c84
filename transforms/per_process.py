"""Heavy state (models) held once per worker process, for the process's life.

Every DoFn instance that asks for the same thing gets the same object (through Beam's
`Shared`), and so does every later pipeline the same process runs: the streaming loop's windows
reuse the loaded models instead of loading them again. `Shared` alone keeps only the most
recently acquired object alive, so a strong reference is kept here, one per distinct tag.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from apache_beam.utils import shared

_HANDLES: dict[str, shared.Shared] = {}
_KEPT: dict[str, Any] = {}
_LOCK = threading.Lock()


def acquire(tag: str, constructor: Callable[[], Any]) -> Any:
    """The process's object for ``tag`` (a digest of everything it is built from)."""
    with _LOCK:
        handle = _HANDLES.setdefault(tag, shared.Shared())
    held = handle.acquire(constructor, tag=tag)
    with _LOCK:
        _KEPT[tag] = held
    return held


def forget() -> None:
    """Drop every object (tests start from a process with nothing loaded)."""
    with _LOCK:
        _HANDLES.clear()
        _KEPT.clear()
