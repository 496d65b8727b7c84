"""One writer per output: ``<output>/_lock`` names the run that holds it (run id, pid, host,
start); a holder that died on this machine, or one older than ``stale_after_s``, is taken over."""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import socket
import time
from typing import Any, Iterator

from transforms.errors import OutputLocked, UsageError
from transforms.filesystems import is_local

LOCK = "_lock"
_LOG = logging.getLogger(__name__)
#: Errors that mean "this user cannot write there", as opposed to an outage or a bug.
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def hold(fs, root: str, url: str, run_id: str, stale_after_s: float = 12 * 3600) -> Iterator[None]:
    """Hold ``<root>/_lock`` on ``fs`` for the duration (``url`` names the output in messages)."""
    path = root.rstrip("/") + "/" + LOCK
    me = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": now()}
    try:
        fs.makedirs(root, exist_ok=True)
        created = _create_exclusive(fs, path, me)
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise UsageError(f"--output {url}: cannot write there ({exc.strerror or exc})") from exc
    except FileNotFoundError as exc:  # a parent that is a broken link, a bucket that does not exist
        raise UsageError(f"--output {url}: cannot create it ({exc.strerror or exc})") from exc
    except OSError as exc:
        if exc.errno not in _NOT_WRITABLE:
            raise
        raise UsageError(f"--output {url}: cannot write there ({exc.strerror or exc})") from exc
    if not created:
        if fs.isdir(path):
            raise UsageError(f"--output {url}: {path} is a folder, where the lock file goes; remove it")
        holder = read_json(fs, path) or {}
        if not _is_stale(holder, stale_after_s):
            raise OutputLocked(
                f"{url} is locked by run {holder.get('run_id')} (pid {holder.get('pid')} on "
                f"{holder.get('host')}, since {holder.get('started_at')}). Wait for it to finish; if it died, "
                f"the lock is taken over after {stale_after_s / 3600:g} h, or delete {path} by hand."
            )
        _LOG.warning("taking over the stale lock of run %s (%s)", holder.get("run_id"), holder)
        fs.rm(path)
        if not _create_exclusive(fs, path, me):
            raise OutputLocked(f"{url}: another run took the lock at the same moment; try again")
    try:
        yield
    finally:
        if (read_json(fs, path) or {}).get("run_id") == run_id:
            fs.rm(path)


def read_json(fs, path: str) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing, not JSON or not an object (damaged)."""
    try:
        found = json.loads(fs.cat_file(path))
    except (FileNotFoundError, IsADirectoryError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _create_exclusive(fs, path: str, content: dict[str, Any]) -> bool:
    data = json.dumps(content).encode()
    if is_local(fs):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True
    # Object stores have no exclusive create: write, then check that we are the owner.
    if fs.exists(path):
        return False
    fs.pipe_file(path, data)
    return (read_json(fs, path) or {}).get("run_id") == content["run_id"]


def _is_stale(holder: dict[str, Any], stale_after_s: float) -> bool:
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True  # the holder died on this machine
        except PermissionError:
            pass
    try:
        started = dt.datetime.fromisoformat(holder["started_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return True
    return time.time() - started > stale_after_s
