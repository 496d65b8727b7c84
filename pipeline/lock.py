"""One writer per output: ``<output>/_lock`` names the run that holds it (run id, pid, host,
start) and the holder's last heartbeat, written every `HEARTBEAT_S`; a holder that died on this
machine, whose heartbeat stopped `HEARTBEAT_LOST_S` ago (killed on another machine or in a
container that is gone), or, for a lock of an earlier version with no heartbeat, one older than
``stale_after_s``, is taken over."""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import socket
import threading
import time
from typing import Any, Iterator

from transforms.errors import OutputLocked, UsageError

LOCK = "_lock"
#: How often a holder says it is alive, and after how long without a word it is taken for dead
#: (SIGKILL, a machine or container gone): ten missed heartbeats.
HEARTBEAT_S = 60.0
HEARTBEAT_LOST_S = 600.0
_LOG = logging.getLogger(__name__)
#: Errors that mean "this user cannot write there", as opposed to an outage or a bug.
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def hold(fs, root: str, url: str, run_id: str, stale_after_s: float = 12 * 3600) -> Iterator[None]:
    """Hold ``<root>/_lock`` on ``fs`` for the duration (``url`` names the output in messages)."""
    path = root.rstrip("/") + "/" + LOCK
    me = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": now(), "heartbeat_at": now()}
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
                f"the lock is taken over {HEARTBEAT_LOST_S / 60:g} min after its last heartbeat "
                f"({holder.get('heartbeat_at', 'none')}), or delete {path} by hand."
            )
        _LOG.warning("taking over the stale lock of run %s (%s)", holder.get("run_id"), holder)
        fs.rm(path)
        if not _create_exclusive(fs, path, me):
            raise OutputLocked(f"{url}: another run took the lock at the same moment; try again")
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(fs, path, me, stop), name="lock-heartbeat", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        if (read_json(fs, path) or {}).get("run_id") == run_id:
            fs.rm(path)


def _heartbeat(fs, path: str, me: dict[str, Any], stop: threading.Event) -> None:
    """Every `HEARTBEAT_S` until ``stop``: the lock's ``heartbeat_at`` set to now, while the lock
    is still ours (replaced whole, so a reader never sees half a file)."""
    while not stop.wait(HEARTBEAT_S):
        try:
            if (read_json(fs, path) or {}).get("run_id") != me["run_id"]:
                return  # taken over or removed: not ours to touch
            _replace(fs, path, {**me, "heartbeat_at": now()})
        except OSError as exc:  # an outage: the next beat tries again
            _LOG.warning("could not renew the lock %s: %s", path, exc)


def _replace(fs, path: str, content: dict[str, Any]) -> None:
    data = json.dumps(content).encode()
    if is_local(fs):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    else:
        fs.pipe_file(path, data)  # one object written whole


def is_local(fs) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols


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
    alive_here = False
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
            alive_here = True  # (or its pid was reused: then the age rule below)
        except ProcessLookupError:
            return True  # the holder died on this machine
        except PermissionError:
            alive_here = True
    if "heartbeat_at" in holder and not alive_here:
        try:
            return time.time() - dt.datetime.fromisoformat(holder["heartbeat_at"]).timestamp() > HEARTBEAT_LOST_S
        except (TypeError, ValueError):
            return True
    try:  # a live process here, or a lock an earlier version wrote (no heartbeat): its age
        started = dt.datetime.fromisoformat(holder["started_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return True
    return time.time() - started > stale_after_s
