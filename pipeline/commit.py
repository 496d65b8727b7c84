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

from pipeline import faults
from pipeline.errors import UsageError
from transforms.write import merge_files

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

    def partition_files(self) -> list[str]:
        """Published Parquet files, relative to the root, sorted: what readers see."""
        return sorted(posixpath.relpath(p, self.root) for p in self.fs.glob(self._path("date=*", "topic=*", "*.parquet")))

    def open(self, relative: str, mode: str = "rb"):
        return self.fs.open(self._path(relative), mode)

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

    # -- history ------------------------------------------------------------------------

    def manifests(self) -> list[dict[str, Any]]:
        """Committed runs, oldest first."""
        runs = self._path(RUNS)
        if not self.fs.exists(runs):
            return []
        found = [self._read_json(p) for p in self.fs.glob(runs + "/*.json")]
        return sorted((m for m in found if m and "published_at" in m), key=lambda m: (m["published_at"], m["run_id"]))

    def committed_inputs(self) -> dict[str, dict[str, Any]]:
        """source_id -> the latest committed outcome of that input (with its content hash and,
        when written, its file); inputs whose file a later run replaced are forgotten."""
        latest: dict[str, dict[str, Any]] = {}
        for manifest in self.manifests():
            # Rows of merged files reappear below, in this run's ledger, as "moved".
            for rel in manifest.get("replaced_files", []) + manifest.get("merged_files", []):
                for source_id in [k for k, v in latest.items() if v.get("file") == rel]:
                    del latest[source_id]
            inputs_file = manifest.get("inputs_file")
            if not inputs_file or not self.fs.exists(self._path(inputs_file)):
                continue
            with self.fs.open(self._path(inputs_file), "rt", encoding="utf-8") as f:
                for line in f:
                    entry = json.loads(line)
                    latest[source_id_of(entry)] = {**entry, "run_id": manifest["run_id"]}
        return latest

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

    def publish(
        self,
        run_id: str,
        mode: str = "incremental",
        committed: dict[str, dict[str, Any]] | None = None,
        min_rows_per_file: int = 1,
        max_rows_per_file: int = 100_000,
        compression: str = "zstd",
    ) -> dict[str, Any]:
        """Move the staged run into place, apply what its mode replaces, write its manifest.

        incremental: rows of inputs this run processed again (changed content) are removed
        from the files that held them (those files are rewritten without them);
        overwrite_partitions: every older file in a partition this run wrote is removed;
        rebuild: every older file in the dataset is removed.
        A small file this run adds to a partition is merged with the partition's earlier small
        files (see `_stage_merges`), so daily runs do not pile up tiny files.
        """
        stage = self._path(STAGING, run_id)
        summary = self.staged_summary(run_id)
        committed_files = [posixpath.relpath(self.fs._strip_protocol(p), stage) for p in summary.get("written_files", {})]
        rejections = [posixpath.relpath(p, stage) for p in self.fs.glob(posixpath.join(stage, REJECTED, "*.jsonl"))]
        # Only what committed bundles reported: files a failed attempt left behind stay out.
        staged = sorted(committed_files + rejections)
        new_partitions = {posixpath.dirname(f) for f in staged if f.endswith(".parquet")}
        existing = self.partition_files()
        rewrites: list[dict[str, Any]] = []
        if mode == "rebuild":
            deletes = existing
        elif mode == "overwrite_partitions":
            deletes = [f for f in existing if posixpath.dirname(f) in new_partitions]
        else:
            deletes = []
            rewrites = self._stage_rewrites(run_id, staged, committed or {})
        merged: list[str] = []
        if min_rows_per_file > 1:
            untouchable = set(deletes) | {r["file"] for r in rewrites}
            staged, merged = self._stage_merges(
                run_id, staged, untouchable, min_rows_per_file, max_rows_per_file, compression
            )
        journal = {
            "run_id": run_id,
            "mode": mode,
            "files": staged,
            "rewrites": rewrites,
            "deletes": deletes,
            "merged": merged,
        }
        faults.reached("publish-before-journal")
        self.fs.pipe_file(posixpath.join(stage, JOURNAL), json.dumps(journal).encode())
        faults.reached("publish-after-journal")
        return self._publish_journal(run_id)

    def _stage_rewrites(self, run_id: str, staged: list[str], committed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """For inputs this run processed again, stage their old files rewritten without them."""
        stage = self._path(STAGING, run_id)
        drop_by_file: dict[str, set[str]] = {}
        for entry in self._staged_inputs(stage, staged):
            old = committed.get(source_id_of(entry))
            if old and old.get("file"):
                drop_by_file.setdefault(old["file"], set()).add(source_id_of(entry))
        rewrites = []
        for rel, drop in sorted(drop_by_file.items()):
            if not self.fs.exists(self._path(rel)):
                continue
            with self.fs.open(self._path(rel), "rb") as f:
                table = pq.read_table(f)
            ids = [source_id_of(r) for r in table.select(["source_path", "source_line"]).to_pylist()]
            keep = [i for i, source_id in enumerate(ids) if source_id not in drop]
            staged_rel = None
            if keep:
                staged_rel = posixpath.join("_rewrite", rel)
                self.fs.makedirs(posixpath.dirname(posixpath.join(stage, staged_rel)), exist_ok=True)
                with self.fs.open(posixpath.join(stage, staged_rel), "wb") as out:
                    pq.write_table(table.take(keep), out, compression="zstd")
            rewrites.append({"file": rel, "staged": staged_rel, "rows_removed": len(ids) - len(keep)})
        return rewrites

    def _stage_merges(
        self, run_id: str, staged: list[str], untouchable: set[str], min_rows: int, max_rows: int, compression: str
    ) -> tuple[list[str], list[str]]:
        """Merge each partition's small new file with the partition's published small files.

        Only partitions where this run adds a file below ``min_rows`` are looked at. When the
        small files together are still below ``min_rows``, the partition's smallest file with
        room (below ``max_rows``) joins them; merged files are split evenly, and
        ``min_rows <= max_rows / 2``, so every merged file reaches ``min_rows`` unless the
        whole partition is smaller. Returns the new staged list and the published files the
        merge replaces (deleted by the journal after the merged files are in place).
        """
        stage = self._path(STAGING, run_id)
        by_partition: dict[str, list[str]] = {}
        for rel in staged:
            if rel.endswith(".parquet"):
                by_partition.setdefault(posixpath.dirname(rel), []).append(rel)
        result = [rel for rel in staged if not rel.endswith(".parquet")]
        replaced: list[str] = []
        for partition, new_files in sorted(by_partition.items()):
            new_rows = {rel: self._rows(posixpath.join(stage, rel)) for rel in new_files}
            small_new = [rel for rel in new_files if new_rows[rel] < min_rows]
            if not small_new:
                result += new_files
                continue
            published = sorted(
                posixpath.relpath(p, self.root) for p in self.fs.glob(self._path(partition, "*.parquet"))
            )
            old_rows = {rel: self._rows(self._path(rel)) for rel in published if rel not in untouchable}
            small_old = [rel for rel, n in old_rows.items() if n < min_rows]
            if sum(new_rows[r] for r in small_new) + sum(old_rows[r] for r in small_old) < min_rows:
                roomy = sorted((n, rel) for rel, n in old_rows.items() if min_rows <= n < max_rows)
                small_old += [rel for _, rel in roomy[:1]]
            if len(small_new) + len(small_old) < 2:
                result += new_files
                continue
            written = merge_files(
                self.fs,
                [posixpath.join(stage, rel) for rel in small_new] + [self._path(rel) for rel in small_old],
                posixpath.join(stage, partition),
                partition,
                run_id,
                max_rows,
                compression,
            )
            for rel in small_new:  # never published: the merged files hold their rows
                self.fs.rm(posixpath.join(stage, rel))
            result += [rel for rel in new_files if rel not in small_new]
            result += [posixpath.relpath(self.fs._strip_protocol(w.path), stage) for w in written]
            replaced += small_old
        return sorted(result), replaced

    def _rows(self, path: str) -> int:
        with self.fs.open(path, "rb") as f:
            return pq.ParquetFile(f).metadata.num_rows

    def _staged_inputs(self, stage: str, staged: list[str]) -> Iterator[dict[str, Any]]:
        for rel in staged:
            if rel.endswith(".parquet"):
                with self.fs.open(posixpath.join(stage, rel), "rb") as f:
                    yield from pq.read_table(f, columns=["source_path", "source_line"]).to_pylist()
            elif rel.startswith(REJECTED + "/") and rel.endswith(".jsonl"):
                with self.fs.open(posixpath.join(stage, rel), "rt", encoding="utf-8") as f:
                    yield from (json.loads(line) for line in f)

    def _publish_journal(self, run_id: str) -> dict[str, Any]:
        """Carry out a journal; every step is safe to repeat, so a crash is rolled forward."""
        stage = self._path(STAGING, run_id)
        journal = json.loads(self.fs.cat_file(posixpath.join(stage, JOURNAL)))
        files = [f for f in journal["files"] if f != JOURNAL]
        for rel in files:
            self._move_in(stage, rel, rel, run_id)
            faults.reached("publish-move")
        for rewrite in journal.get("rewrites", []):
            faults.reached("publish-rewrite")
            if rewrite["staged"]:
                self._move_in(stage, rewrite["staged"], rewrite["file"], run_id, allow_done=True)
            elif self.fs.exists(self._path(rewrite["file"])):
                self.fs.rm(self._path(rewrite["file"]))
        for rel in journal.get("deletes", []) + journal.get("merged", []):
            if self.fs.exists(self._path(rel)):
                self.fs.rm(self._path(rel))
        faults.reached("publish-before-manifest")
        manifest = self._manifest(run_id, files)
        manifest["mode"] = journal.get("mode", manifest.get("mode"))
        manifest["rewritten_files"] = journal.get("rewrites", [])
        manifest["replaced_files"] = journal.get("deletes", [])
        manifest["merged_files"] = journal.get("merged", [])
        self._write_atomic(self.manifest_path(run_id), json.dumps(manifest, indent=2).encode() + b"\n")
        faults.reached("publish-before-cleanup")
        self.fs.rm(stage, recursive=True)
        if self.fs.exists(self._path(STAGING)) and not self.fs.ls(self._path(STAGING), detail=False):
            self.fs.rmdir(self._path(STAGING))
        self.fs.pipe_file(self._path(SUCCESS), f"{run_id}\n".encode())
        return manifest

    def _move_in(self, stage: str, staged_rel: str, rel: str, run_id: str, allow_done: bool = False) -> None:
        source, target = posixpath.join(stage, staged_rel), self._path(rel)
        if self.fs.exists(source):
            self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            self.fs.mv(source, target)
        elif not allow_done and not self.fs.exists(target):
            raise RuntimeError(f"publish of run {run_id}: {rel} is neither staged nor published")

    def _manifest(self, run_id: str, files: list[str]) -> dict[str, Any]:
        summary = self._read_json(self._path(STAGING, run_id, RUNS, f"{run_id}.json")) or {"run_id": run_id}
        outputs = []
        inputs_rel = posixpath.join(RUNS, f"{run_id}.inputs.jsonl")
        # The ledger has a line per input: streamed to the file, never held (it grows with the corpus).
        with self._atomic_file(self._path(inputs_rel)) as out:
            for rel in files:
                path = self._path(rel)
                if rel.endswith(".parquet"):
                    with self.fs.open(path, "rb") as f:
                        parquet = pq.ParquetFile(f)
                        outputs.append({"path": rel, "rows": parquet.metadata.num_rows})
                        partition = posixpath.dirname(rel)
                        columns = ["source_path", "source_line", "content_sha256", "run_id"]
                        for batch in parquet.iter_batches(columns=columns):
                            for row in batch.to_pylist():
                                # A row another run wrote is here because a merge moved it into this file.
                                outcome = "written" if row.pop("run_id") == run_id else "moved"
                                _write_line(out, {**row, "outcome": outcome, "partition": partition, "file": rel})
                elif rel.startswith(REJECTED + "/") and rel.endswith(".jsonl"):
                    with self.fs.open(path, "rt", encoding="utf-8") as f:
                        for line in f:
                            _write_line(out, {**json.loads(line), "outcome": "rejected"})
        summary.pop("written_files", None)  # staging paths; output_files says where they are now
        return {
            **summary,
            "published_at": _now(),
            "output_files": outputs,
            "rejection_files": [f for f in files if f.startswith(REJECTED + "/")],
            "inputs_file": inputs_rel,
        }

    def _write_atomic(self, path: str, data: bytes) -> None:
        with self._atomic_file(path) as out:
            out.write(data)

    @contextlib.contextmanager
    def _atomic_file(self, path: str) -> Iterator[Any]:
        """A binary file written under a hidden temporary name, moved to ``path`` when complete."""
        temporary = posixpath.join(posixpath.dirname(path), "." + posixpath.basename(path) + ".tmp")
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with self.fs.open(temporary, "wb") as out:
            yield out
        self.fs.mv(temporary, path)


def _write_line(out, record: dict[str, Any]) -> None:
    out.write((json.dumps(record, sort_keys=True) + "\n").encode())


def source_id_of(entry: dict[str, Any]) -> str:
    """An input's id: its path, plus ``#L<n>`` for a JSON Lines record (as `Article.source_id`)."""
    line = entry.get("source_line")
    return entry["source_path"] if line is None else f"{entry['source_path']}#L{line}"


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
