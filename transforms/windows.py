"""A window's part of a file name: nothing for the global window (a batch run), its bounds for
any other, so the files of different windows never overwrite each other."""
from __future__ import annotations

from typing import Any

from apache_beam.transforms.window import GlobalWindow


def window_suffix(window: Any) -> str:
    if isinstance(window, GlobalWindow) or not hasattr(window, "start"):
        return ""
    return f".w{window.start.micros // 1000}-{window.end.micros // 1000}"
