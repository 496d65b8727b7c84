"""The output contract: staged writes, a lock, and a publish step readers can trust.

A run writes everything under ``<output>/_staging/<run_id>/`` in the final layout. Only when
the pipeline has finished and every input is accounted for does the driver publish:

1. write a journal ``_staging/<run_id>/_PUBLISHING`` listing every staged file;
2. move each file to the same relative path under ``<output>`` (Parquet names are
   deterministic, so moving again after a crash cannot duplicate anything);
3. write the manifest ``_runs/<run_id>.json`` (summary, options, versions, every output file
   with its row count) and ``_runs/<run_id>.inputs.jsonl`` (every input and its outcome);
4. remove the staging folder and touch ``_SUCCESS``.

Readers listing ``date=*/topic=*/*.parquet`` never see a file that is still being written
(staging is outside the partitions and hidden by its ``_`` prefix). A crash before step 1
leaves only staging, which the next run deletes; a crash during steps 1-4 leaves a journal,
and the next run rolls the publish forward before doing anything else. A lock file
(``_lock``: run id, pid, host, start) keeps two runs from writing the same output at once.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import posixpath
import socket
import time
from typing import Any, Iterator

import fsspec
import pyarrow.parquet as pq

from pipeline.errors import UsageError

STAGING = "_staging"
RUNS = "_runs"
REJECTED = "_rejected"
LOCK = "_lock"
SUCCESS = "_SUCCESS"
JOURNAL = "_PUBLISHING"
_LOG = logging.getLogger(__name__)


class OutputLocked(UsageError):
    """Another live run holds the output's lock."""


class DatasetOutput:
    """One output dataset root, reached through fsspec."""

    def __init__(self, url: str):
        self.url = url.rstrip("/") or "/"
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/") or "/"

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def staging_url(self, run_id: str) -> str:
        """Where the pipeline writes this run (an fsspec URL, so workers can reach it)."""
        return self.fs.unstrip_protocol(self._path(STAGING, run_id)) if "://" in self.url else self._path(STAGING, run_id)

    def manifest_path(self, run_id: str) -> str:
        return self._path(RUNS, f"{run_id}.json")

    # -- lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, run_id: str, stale_after_s: float = 12 * 3600) -> Iterator[None]:
        """Hold ``<output>/_lock`` for the duration; a dead or timed-out holder is taken over."""
        path = self._path(LOCK)
        me = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": _now()}
        self.fs.makedirs(self.root, exist_ok=True)
        if not self._create_exclusive(path, me):
            holder = self._read_json(path) or {}
            if not _is_stale(holder, stale_after_s):
                raise OutputLocked(
                    f"{self.url} is locked by run {holder.get('run_id')} (pid {holder.get('pid')} on "
                    f"{holder.get('host')}, since {holder.get('started_at')}). Wait for it to finish; if it died, "
                    f"the lock is taken over after {stale_after_s / 3600:g} h, or delete {path} by hand."
                )
            _LOG.warning("taking over the stale lock of run %s (%s)", holder.get("run_id"), holder)
            self.fs.rm(path)
            if not self._create_exclusive(path, me):
                raise OutputLocked(f"{self.url}: another run took the lock at the same moment; try again")
        try:
            yield
        finally:
            if (self._read_json(path) or {}).get("run_id") == run_id:
                self.fs.rm(path)

    def _create_exclusive(self, path: str, content: dict[str, Any]) -> bool:
        data = json.dumps(content).encode()
        if "file" in _protocols(self.fs):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return True
        # Object stores have no exclusive create: write, then check that we are the owner.
        if self.fs.exists(path):
            return False
        self.fs.pipe_file(path, data)
        return (self._read_json(path) or {}).get("run_id") == content["run_id"]

    def _read_json(self, path: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.fs.cat_file(path))
        except (FileNotFoundError, ValueError):
            return None

    # -- recovery -----------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish the publish of crashed runs that had started it; delete every other staging."""
        actions = []
        staging = self._path(STAGING)
        if not self.fs.exists(staging):
            return actions
        for entry in self.fs.ls(staging, detail=False):
            run_id = posixpath.basename(entry.rstrip("/"))
            if self.fs.exists(posixpath.join(entry, JOURNAL)):
                self._publish_journal(run_id)
                actions.append(f"rolled forward the interrupted publish of run {run_id}")
            else:
                self.fs.rm(entry, recursive=True)
                actions.append(f"removed the staging of unfinished run {run_id}")
        if self.fs.exists(staging) and not self.fs.ls(staging, detail=False):
            self.fs.rmdir(staging)
        return actions

    # -- publish ------------------------------------------------------------------------

    def staged_summary(self, run_id: str) -> dict[str, Any]:
        path = self._path(STAGING, run_id, RUNS, f"{run_id}.json")
        summary = self._read_json(path)
        if summary is None:
            raise RuntimeError(f"run {run_id} finished without writing its summary ({path})")
        return summary

    def publish(self, run_id: str) -> dict[str, Any]:
        """Move the staged run into place and write its manifest; returns the manifest."""
        stage = self._path(STAGING, run_id)
        staged = sorted(
            posixpath.relpath(p, stage)
            for p in self.fs.find(stage)
            if not posixpath.basename(p).startswith(".") and posixpath.relpath(p, stage) != posixpath.join(RUNS, f"{run_id}.json")
        )
        self.fs.pipe_file(posixpath.join(stage, JOURNAL), json.dumps({"run_id": run_id, "files": staged}).encode())
        return self._publish_journal(run_id)

    def _publish_journal(self, run_id: str) -> dict[str, Any]:
        stage = self._path(STAGING, run_id)
        journal = json.loads(self.fs.cat_file(posixpath.join(stage, JOURNAL)))
        files = [f for f in journal["files"] if f != JOURNAL]
        for rel in files:
            source, target = posixpath.join(stage, rel), self._path(rel)
            if self.fs.exists(source):
                self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                self.fs.mv(source, target)
            elif not self.fs.exists(target):
                raise RuntimeError(f"publish of run {run_id}: {rel} is neither staged nor published")
        manifest = self._manifest(run_id, files)
        self._write_atomic(self.manifest_path(run_id), json.dumps(manifest, indent=2).encode() + b"\n")
        self.fs.rm(stage, recursive=True)
        if self.fs.exists(self._path(STAGING)) and not self.fs.ls(self._path(STAGING), detail=False):
            self.fs.rmdir(self._path(STAGING))
        self.fs.pipe_file(self._path(SUCCESS), f"{run_id}\n".encode())
        return manifest

    def _manifest(self, run_id: str, files: list[str]) -> dict[str, Any]:
        summary = self._read_json(self._path(STAGING, run_id, RUNS, f"{run_id}.json")) or {"run_id": run_id}
        outputs, inputs = [], []
        for rel in files:
            path = self._path(rel)
            if rel.endswith(".parquet"):
                with self.fs.open(path, "rb") as f:
                    table = pq.read_table(f, columns=["source_path", "source_line", "content_sha256"])
                outputs.append({"path": rel, "rows": table.num_rows})
                partition = posixpath.dirname(rel)
                for row in table.to_pylist():
                    inputs.append({**row, "outcome": "written", "partition": partition})
            elif rel.startswith(REJECTED + "/") and rel.endswith(".jsonl"):
                with self.fs.open(path, "rt", encoding="utf-8") as f:
                    for line in f:
                        record = json.loads(line)
                        inputs.append({**record, "outcome": "rejected"})
        inputs_rel = posixpath.join(RUNS, f"{run_id}.inputs.jsonl")
        self._write_atomic(self._path(inputs_rel), "".join(json.dumps(i, sort_keys=True) + "\n" for i in inputs).encode())
        return {
            **summary,
            "published_at": _now(),
            "output_files": outputs,
            "rejection_files": [f for f in files if f.startswith(REJECTED + "/")],
            "inputs_file": inputs_rel,
        }

    def _write_atomic(self, path: str, data: bytes) -> None:
        temporary = posixpath.join(posixpath.dirname(path), "." + posixpath.basename(path) + ".tmp")
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, path)


def _protocols(fs) -> tuple[str, ...]:
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)


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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
