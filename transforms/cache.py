"""Per-machine cache of files derived from installed packages (built once, then reused by every worker)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def cache_dir() -> Path:
    return Path(os.environ.get("NEWS_INGEST_CACHE", Path.home() / ".cache" / "news-ingest"))


def cached_file(name: str, build: Callable[[Path], None]) -> Path:
    """The cached file ``name``, built by ``build(temporary_path)`` when missing.

    Workers starting together may build it at once: each writes its own temporary file and
    renames it into place, so none ever reads half a file.
    """
    path = cache_dir() / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            build(temporary)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path
