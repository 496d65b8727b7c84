"""Per-machine cache of files derived from installed packages (built once, then reused by every worker)."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
_LOG = logging.getLogger(__name__)


def cache_dir() -> Path:
    return Path(os.environ.get("NEWS_INGEST_CACHE") or Path.home() / ".cache" / "news-ingest")


def cached_file(name: str, build: Callable[[Path], None]) -> Path:
    """The cached file ``name``, built by ``build(temporary_path)`` when missing.

    Workers (processes or threads) starting together may build it at once: each writes its
    own uniquely named temporary file, flushes it to disk and renames it into place, so none
    ever reads half a file.
    """
    path = cache_dir() / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
        os.close(handle)
        temporary = Path(temporary_name)
        try:
            build(temporary)
            with open(temporary, "rb") as f:
                os.fsync(f.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path


def load_cached(name: str, build: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """``load`` the cached file; a file that cannot be loaded (cut short, corrupted) is rebuilt once."""
    path = cached_file(name, build)
    try:
        return load(path)
    except Exception as exc:  # noqa: BLE001 - any load error: rebuild, then let a second one raise
        _LOG.warning("cached %s could not be loaded (%s); rebuilding it", path, exc)
        path.unlink(missing_ok=True)
        return load(cached_file(name, build))
