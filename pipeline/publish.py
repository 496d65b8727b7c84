"""The output contract: staged writes and a publish step readers can trust.

A run writes everything under ``<output>/_staging/<run_id>/`` in the final layout. Only when
the pipeline has finished and every input is accounted for does the driver publish:

1. write a journal ``_staging/<run_id>/_PUBLISHING`` listing every staged file;
2. move each file to the same relative path under ``<output>`` (a file already moved is not
   moved again, so rolling forward after a crash cannot duplicate anything);
3. write the manifest ``_runs/<run_id>.json`` (summary, options, versions, every output file
   with its row count); the run's ledger ``_runs/<run_id>.inputs.jsonl`` (every input and its
   outcome) and the committed-input index (`pipeline.ledger`) move in with the data;
4. remove the staging folder and touch ``_SUCCESS``.

Readers listing ``date=*/topic=*/*.parquet`` never see a file that is still being written
(staging is outside the partitions and hidden by its ``_`` prefix). A crash before step 1
leaves only staging, which the next run deletes; a crash during steps 1-4 leaves a journal,
and the next run rolls the publish forward before doing anything else. The lock
(`pipeline.lock`) keeps two runs from writing the same output at once.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
from typing import Any, Iterator

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import ledger, lock
from pipeline.delta_table import DELTA_LOG, DataFile, DeltaLog, TableChanged, table_uri
from pipeline.ledger import REJECTIONS as REJECTED
from pipeline.ledger import INDEX_DIR, RUNS, ledger_path
from schemas.article import ARTICLE_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY, article_id, is_data_file_name, source_id, split_source_id
from transforms import faults
from transforms.duplicates import DUPLICATES_DIR, SIGNATURE_ROW_GROUP, SIGNATURE_SCHEMA, SIGNATURES
from transforms.errors import UsageError
from transforms.filesystems import is_local
from transforms.parquet_files import PendingFile, merge_files, part_name, readable

STAGING = "_staging"
SUCCESS = "_SUCCESS"
JOURNAL = "_PUBLISHING"
_LOG = logging.getLogger(__name__)


class DatasetOutput:
    """One output dataset root, reached through fsspec. ``table_format``: hive (the folders are
    the dataset) or delta (a Delta table's log names its files, `pipeline.delta_table`); None
    reads it from the output (delta when it has a Delta log)."""

    def __init__(self, url: str, table_format: str | None = None):
        self.url = url.rstrip("/") or "/"
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/") or "/"
        check_no_glob(self.url, self.root)
        self.table_format = table_format or ("delta" if self.has_delta_log() else "hive")
        self.delta = DeltaLog(table_uri(self.url, self.fs, self.root)) if self.table_format == "delta" else None

    def has_delta_log(self) -> bool:
        return self.fs.exists(self._path(DELTA_LOG))

    def check_table_format(self) -> None:
        """Stop before any work when the output is in the other table format."""
        if self.table_format == "hive" and self.has_delta_log():
            raise UsageError(f"--output {self.url} is a Delta table: run with --table_format delta")
        if self.table_format == "delta" and not self.has_delta_log() and self._hive_files():
            raise UsageError(
                f"--output {self.url} holds a Hive-layout dataset: convert it first (python -m pipeline.convert "
                f"{self.url}), or run with --table_format hive"
            )
        if self.delta is not None and self.has_delta_log():
            self.check_index_follows_table()

    def check_index_follows_table(self) -> None:
        """Stop when another writer changed the Delta table (an OPTIMIZE, a DELETE) so that the
        committed-input index names files it no longer has: a changed input's old row could not
        be found and replaced."""
        stale = self._indexed_files() - set(self.partition_files())
        if stale:
            foreign = self.delta.foreign_commits()
            raise UsageError(
                f"--output {self.url}: {len(stale)} files the committed-input index names are no longer in the Delta "
                f"table, changed by another writer ({', '.join(foreign[:3]) or 'its commits are no longer in the log'}): "
                f"run python -m pipeline.compact {self.url} --reindex (and compact with python -m pipeline.compact, "
                "which keeps the index)"
            )

    def _indexed_files(self) -> set[str]:
        """The data files the committed-input index names (read a row group at a time)."""
        return {f for batch in self.index_batches() for f in batch["file"].unique().to_pylist() if f}

    def reindex(self) -> tuple[int, int]:
        """Point the committed-input index at the files of the table's current version, after
        another writer moved rows (an OPTIMIZE): rows are looked up in the files the index does
        not know. Returns (entries moved, entries forgotten: rows no longer in the table, whose
        inputs a later run ingests again). The caller holds the lock."""
        current = self.partition_files()
        known = self._indexed_files()
        where: dict[str, str] = {}
        for rel in sorted(set(current) - known):
            with self.fs.open(self._path(rel), "rb") as f, readable(rel):
                for row in pq.read_table(f, columns=["source_path", "source_line"]).to_pylist():
                    where[source_id(row["source_path"], row["source_line"])] = rel
        present = pa.array(sorted(current), pa.string())
        moved, forgotten = 0, 0
        with self._atomic_file(self._path(ledger.INPUTS)) as out, ledger.index_writer(out) as writer:
            for batch in self.index_batches():
                table = pa.Table.from_batches([batch])
                lost = pc.and_(pc.is_valid(table["file"]), pc.invert(pc.is_in(table["file"], value_set=present)))
                if not pc.any(lost).as_py():
                    writer.write_table(table.cast(ledger.INDEX_SCHEMA))
                    continue
                ids = ledger.keys_of(table).to_pylist()
                files = table["file"].to_pylist()
                keep = []
                for i, is_lost in enumerate(lost.to_pylist()):
                    if is_lost:
                        files[i] = where.get(ids[i])
                        moved += files[i] is not None
                        forgotten += files[i] is None
                    keep.append(files[i] is not None or not is_lost)
                table = table.set_column(table.schema.get_field_index("file"), "file", pa.array(files, pa.string()))
                writer.write_table(table.filter(pa.array(keep)).cast(ledger.INDEX_SCHEMA))
        return moved, forgotten

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def staging_url(self, run_id: str) -> str:
        """Where the pipeline writes this run (an fsspec URL, so workers can reach it)."""
        return self.fs.unstrip_protocol(self._path(STAGING, run_id)) if "://" in self.url else self._path(STAGING, run_id)

    def discard_staged(self, run_id: str, folder: str) -> None:
        """Delete a folder of the run's staging that is not published (parked intermediate data)."""
        path = self._path(STAGING, run_id, folder)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def manifest_path(self, run_id: str) -> str:
        return self._path(RUNS, f"{run_id}.json")

    def has_run(self, run_id: str, streaming: bool = False) -> bool:
        """Whether the dataset already has that run's manifest (or, streaming, a window of it):
        a run reusing the id would overwrite its manifest, ledger and report."""
        if self.fs.exists(self.manifest_path(run_id)):
            return True
        return streaming and bool(self.fs.glob(self.manifest_path(f"{run_id}-w*")))

    def url_of(self, path: str) -> str:
        """A path on this output's file system as the user would write it (with its protocol
        when the output was given as a URL)."""
        return self.fs.unstrip_protocol(path) if "://" in self.url else path

    def partition_files(self) -> list[str]:
        """Published Parquet files, relative to the root, sorted: what readers see (for a Delta
        table, the files of its current version)."""
        if self.delta is not None:
            return [f.path for f in self.delta.files()] if self.has_delta_log() else []
        return self._hive_files()

    def stored_files(self) -> list[str]:
        """The data files in the dataset's partition folders, relative to the root, sorted: for a
        Hive dataset what readers see; for a Delta table also files its log no longer names."""
        return self._hive_files()

    def _hive_files(self) -> list[str]:
        found = self.fs.glob(self._path("date=*", "topic=*", "*.parquet"))
        return sorted(posixpath.relpath(p, self.root) for p in found if is_data_file_name(posixpath.basename(p)))

    def exists(self, relative: str) -> bool:
        return self.fs.exists(self._path(relative))

    def open(self, relative: str, mode: str = "rb"):
        return self.fs.open(self._path(relative), mode)

    def check_writable(self) -> None:
        """Stop before any work, with a one-line reason, when the output cannot be a dataset
        root: a regular file, under a file, or (locally) a folder this process may not write."""
        if not is_local(self.fs):
            if self.fs.isfile(self.root):
                raise UsageError(f"--output {self.url} is a file, not a folder")
            return
        path = self.root
        while not os.path.exists(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
        if not os.path.isdir(path):
            what = "is a file" if path == self.root else f"is under {path}, which is a file"
            raise UsageError(f"--output {self.url} {what}, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            reason = "is on a read-only file system" if _read_only(path) else "is not writable by this user"
            raise UsageError(f"--output {self.url}: {path} {reason}")
        # The folders a publish writes last: one it cannot write would stop the run after the
        # data moved in, with its ledger unwritten (a changed article's old row still there).
        for name in (RUNS, INDEX_DIR, REJECTED, STAGING, DELTA_LOG):
            folder = os.path.join(self.root, name)
            if os.path.lexists(folder) and not os.path.isdir(folder):
                raise UsageError(f"--output {self.url}: {folder} is a file, where the dataset keeps a folder")
            if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
                reason = "is on a read-only file system" if _read_only(folder) else "is not writable by this user"
                raise UsageError(f"--output {self.url}: {folder} {reason}")

    # -- history ------------------------------------------------------------------------

    def lock(self, run_id: str, stale_after_s: float = 12 * 3600) -> contextlib.AbstractContextManager[None]:
        """Hold the output's lock for the duration (see `pipeline.lock`)."""
        return lock.hold(self.fs, self.root, self.url, run_id, stale_after_s)

    def _read_json(self, path: str) -> dict[str, Any] | None:
        return lock.read_json(self.fs, path)

    def manifests(self) -> list[dict[str, Any]]:
        """Committed runs, oldest first."""
        runs = self._path(RUNS)
        if not self.fs.exists(runs):
            return []
        found = [self._read_json(p) for p in self.fs.glob(runs + "/*.json")]
        return sorted((m for m in found if m and "published_at" in m), key=lambda m: (m["published_at"], m["run_id"]))

    def index_batches(self) -> Iterator[pa.RecordBatch]:
        """The committed-input index (see `pipeline.ledger`), a row group at a time; built from
        the per-run ledgers when the output predates it."""
        path = self._path(ledger.INPUTS)
        if self.fs.exists(path):
            with self.fs.open(path, "rb") as f:
                try:
                    yield from ledger.read_batches(f)
                except ValueError as exc:  # pyarrow's ArrowInvalid too: empty, truncated, not the index
                    raise UsageError(
                        f"{ledger.INPUTS} of {self.url} cannot be read ({exc}): delete it, and the next run builds it "
                        "again from the runs' ledgers"
                    ) from exc
            return
        legacy = list(ledger.legacy_rows(self.fs, self.root, self.manifests()))
        if legacy:
            yield from ledger.as_table(legacy).to_batches()

    def fingerprints(self) -> dict[str, Any]:
        """fingerprint -> the settings it stands for."""
        return self._read_json(self._path(ledger.FINGERPRINTS)) or {}

    # -- recovery -----------------------------------------------------------------------

    def migrate_index(self) -> bool:
        """Write the committed-input index of an output an earlier version wrote (from its
        per-run ledgers), once, so later runs read the index instead; True when it did."""
        if self.fs.exists(self._path(ledger.INPUTS)) or not self.fs.exists(self._path(RUNS)):
            return False
        rows = list(ledger.legacy_rows(self.fs, self.root, self.manifests()))
        if not rows:
            return False
        with self._atomic_file(self._path(ledger.INPUTS)) as out:
            ledger.write_index(ledger.as_table(rows), out)
        return True

    def interrupted_publishes(self) -> list[str]:
        """Runs whose publish a crash interrupted (the next run rolls them forward)."""
        return [posixpath.basename(posixpath.dirname(p)) for p in self.fs.glob(self._path(STAGING, "*", JOURNAL))]

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

    def amend_staged_summary(self, run_id: str, **extra: Any) -> dict[str, Any]:
        """The staged summary with what only the driver knows (time per stage, the timeline) added."""
        summary = {**self.staged_summary(run_id), **extra}
        self._write_atomic(self._path(STAGING, run_id, RUNS, f"{run_id}.json"), json.dumps(summary, indent=2).encode() + b"\n")
        return summary

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
        fingerprint: str = ledger.LEGACY,
        settings: dict[str, Any] | None = None,
        min_rows_per_file: int = 1,
        max_rows_per_file: int = 100_000,
        compression: str = "zstd",
    ) -> dict[str, Any] | None:
        """Move the staged run into place, apply what its mode replaces, write its manifest;
        None when the run has nothing to publish (every input skipped): then nothing is written.

        Rows of inputs this run processed again are removed from the older files that held them
        (those files are rewritten without them); overwrite_partitions: every older file in a
        partition this run wrote is removed; rebuild: every older file in the dataset is removed.
        A small file this run adds to a partition is merged with the partition's earlier small
        files (see `_stage_merges`), so daily runs do not pile up tiny files. The ledger, the
        committed-input index and the data move in under one journal.
        """
        stage = self._path(STAGING, run_id)
        summary = self.staged_summary(run_id)
        committed_files = [posixpath.relpath(self.fs._strip_protocol(p), stage) for p in summary.get("written_files", {})]
        rejections = [posixpath.relpath(p, stage) for p in self.fs.glob(posixpath.join(stage, REJECTED, "*.jsonl"))]
        dropped = [posixpath.relpath(p, stage) for p in self.fs.glob(posixpath.join(stage, DUPLICATES_DIR, "*.jsonl"))]
        # Signatures a failed attempt left behind are harmless: a candidate must still be alive.
        signatures = [posixpath.relpath(p, stage) for p in self.fs.glob(posixpath.join(stage, SIGNATURES))]
        # Only what committed bundles reported: files a failed attempt left behind stay out.
        staged = sorted(committed_files + rejections + dropped)
        new_partitions = {posixpath.dirname(f) for f in staged if f.endswith(".parquet")}
        existing = self.partition_files()
        written, rejected = self._staged_ids(stage, staged)
        vanished = self._vanished_records(summary.get("jsonl_last_lines") or {})
        # A rejected input that an earlier run wrote keeps that row while its content is the same
        # (the failure may pass, a later version may be good); with other content (a feed's lines
        # reordered, a file replaced) the old row is no longer the input's, and goes like a
        # changed input's.
        before = {sid: e for sid, e in ledger.entries_of(self.index_batches(), source_ids=list(rejected)).items() if e.outcome == ledger.WRITTEN}
        replaced = sorted(sid for sid, e in before.items() if rejected[sid] is not None and rejected[sid] != e.content_sha256)
        rewrites: list[dict[str, Any]] = []
        index_deletes: list[str] = []
        if mode == "rebuild":
            deletes = existing
            index_deletes = [posixpath.relpath(p, self.root) for p in self.fs.glob(self._path(SIGNATURES))]
        else:
            deletes = [f for f in existing if posixpath.dirname(f) in new_partitions] if mode == "overwrite_partitions" else []
            rewrites, rewritten = self._stage_rewrites(run_id, written + vanished + replaced, set(deletes), existing)
            staged = sorted(staged + rewritten)
        # Kept rows: unless this publish deletes that row's file anyway.
        kept = {sid for sid, e in before.items() if sid not in set(replaced) and e.file not in set(deletes)}
        if not committed_files and not deletes and not rewrites and not written and not rejected:
            self.fs.rm(stage, recursive=True)  # every input skipped: a no-op leaves no trace
            self._remove_empty_staging()
            return None
        merged: list[str] = []
        if min_rows_per_file > 1:
            untouchable = set(deletes) | {r["file"] for r in rewrites}
            staged, merged = self._stage_merges(
                run_id, staged, untouchable, existing, min_rows_per_file, max_rows_per_file, compression
            )
        # The ledger has a line per input: streamed to the file, never held (it grows with the corpus).
        with self._atomic_file(posixpath.join(stage, ledger_path(run_id))) as out:
            run_rows, moved = ledger.write_run_ledger(self.fs, stage, staged, run_id, fingerprint, out)
        if kept:
            run_rows = run_rows.filter(pc.invert(pc.is_in(ledger.keys_of(run_rows), value_set=pa.array(sorted(kept)))))
        removed = set(deletes) | set(merged) | {r["file"] for r in rewrites if not r["staged"]}
        self.fs.makedirs(posixpath.join(stage, ledger.INDEX_DIR), exist_ok=True)
        with self.fs.open(posixpath.join(stage, ledger.INPUTS), "wb") as out, ledger.index_writer(out) as writer:
            forgotten = ledger.update_index(
                self.index_batches(), run_rows, moved, removed, writer, replace_all=mode == "rebuild", dropped=vanished
            )
        known = self.fingerprints()
        if fingerprint not in known:
            known[fingerprint] = settings or {}
        self.fs.pipe_file(posixpath.join(stage, ledger.FINGERPRINTS), json.dumps(known, indent=1, sort_keys=True).encode())
        journal = {
            "run_id": run_id,
            "mode": mode,
            "files": staged + signatures + [ledger_path(run_id), ledger.INPUTS, ledger.FINGERPRINTS],
            "rewrites": rewrites,
            "deletes": deletes,
            "index_deletes": index_deletes,
            "merged": merged,
            "inputs_forgotten": forgotten,
            "rejected_kept_rows": len(kept),
            "records_vanished": len(vanished),
        }
        return self._journal_and_publish(run_id, journal)

    def _journal_and_publish(self, run_id: str, journal: dict[str, Any]) -> dict[str, Any]:
        """Write the journal (the point of no return), then carry it out."""
        if self.table_format == "hive" and self.has_delta_log():  # deleting files the log names would break the table
            raise UsageError(f"{self.url} is a Delta table: use --table_format delta")
        journal["table_format"] = self.table_format
        if self.delta is not None:  # the commit's number, fixed before it happens (see `pipeline.delta_table`)
            journal["delta_transaction"] = self.delta.committed() + 1
        faults.reached("publish-before-journal")
        self._write_atomic(posixpath.join(self._path(STAGING, run_id), JOURNAL), json.dumps(journal).encode())
        faults.reached("publish-after-journal")
        return self._publish_journal(run_id)

    # -- housekeeping ---------------------------------------------------------------------

    def compact(self, run_id: str, min_rows: int, max_rows: int, compression: str = "zstd") -> dict[str, Any] | None:
        """Merge each partition's files below ``min_rows`` into as few files as ``max_rows``
        allows, published like a run (journal, index, manifest; for Delta one commit that
        changes no data); None when no partition has two small files. The caller holds the lock."""
        stage = self._path(STAGING, run_id)
        by_partition: dict[str, list[str]] = {}
        for rel in self.partition_files():
            by_partition.setdefault(posixpath.dirname(rel), []).append(rel)
        staged, merged = [], []
        for partition, files in sorted(by_partition.items()):
            small = [rel for rel in files if self._rows(self._path(rel)) < min_rows]
            if len(small) < 2:
                continue
            written = merge_files(
                self.fs, [self._path(rel) for rel in small], posixpath.join(stage, partition), partition, run_id, max_rows, compression
            )
            staged += [posixpath.relpath(self.fs._strip_protocol(w.path), stage) for w in written]
            merged += small
        signatures, kept_signatures = self._stage_signatures(run_id)
        if not merged and not signatures:
            if self.fs.exists(stage):
                self.fs.rm(stage, recursive=True)
            self._remove_empty_staging()
            return None
        summary = {"run_id": run_id, "mode": "compact", "started_at": lock.now(), "schema_version": SCHEMA_VERSION, "files_merged": len(merged),
                   "files_written": len(staged), "signature_files_merged": len(signatures), "signatures_kept": kept_signatures,
                   "articles_written": 0, "articles_rejected": 0, "skipped": 0}  # fmt: skip
        self._write_atomic(posixpath.join(stage, RUNS, f"{run_id}.json"), json.dumps(summary, indent=2).encode() + b"\n")
        with self._atomic_file(posixpath.join(stage, ledger_path(run_id))) as out:
            run_rows, moved = ledger.write_run_ledger(self.fs, stage, sorted(staged), run_id, ledger.LEGACY, out)
        self.fs.makedirs(posixpath.join(stage, ledger.INDEX_DIR), exist_ok=True)
        with self.fs.open(posixpath.join(stage, ledger.INPUTS), "wb") as out, ledger.index_writer(out) as writer:
            forgotten = ledger.update_index(self.index_batches(), run_rows, moved, merged, writer)
        new_signatures = [posixpath.relpath(p, stage) for p in self.fs.glob(posixpath.join(stage, SIGNATURES))]
        journal = {
            "run_id": run_id,
            "mode": "compact",
            "files": sorted(staged) + new_signatures + [ledger_path(run_id), ledger.INPUTS],
            "merged": merged,
            "index_deletes": signatures,
            "inputs_forgotten": forgotten,
        }
        return self._journal_and_publish(run_id, journal)

    def _stage_signatures(self, run_id: str) -> tuple[list[str], int]:
        """Stage the duplicate-detection signatures of the articles still in the dataset as one
        file, when there are several files or rows of articles that left (replaced, rebuilt away);
        returns the files it replaces (none: nothing to do) and the rows kept. Holds the ids of
        the committed articles, a few dozen bytes each."""
        files = sorted(posixpath.relpath(p, self.root) for p in self.fs.glob(self._path(SIGNATURES)))
        if not files:
            return [], 0
        chunks = []
        for batch in self.index_batches():
            rows = batch.filter(pc.equal(batch["outcome"], ledger.WRITTEN))
            hashes = rows["content_sha256"].to_pylist()
            # An article's id as it was made: from the plain path, or (written by an earlier
            # version from a file:// input) from the URL the index still holds.
            for ids in {tuple(ledger.keys_of(rows).to_pylist()), tuple(ledger.keys_of(rows, as_stored=True).to_pylist())}:
                chunks.append(pa.array([article_id(i, h) for i, h in zip(ids, hashes)], pa.string()))
        alive = pa.chunked_array(chunks, pa.string()).combine_chunks() if chunks else pa.array([], pa.string())
        total, kept = 0, 0
        target = posixpath.join(self._path(STAGING, run_id), INDEX_DIR, f"minhash-{run_id}.parquet")
        with PendingFile(self.fs, target) as out, pq.ParquetWriter(out, SIGNATURE_SCHEMA, compression="zstd") as writer:
            for rel in files:
                with self.fs.open(self._path(rel), "rb") as f:
                    for batch in pq.ParquetFile(f).iter_batches(batch_size=SIGNATURE_ROW_GROUP):
                        total += batch.num_rows
                        batch = batch.filter(pc.is_in(batch["article_id"], value_set=alive))
                        kept += batch.num_rows
                        if batch.num_rows:
                            writer.write_table(pa.Table.from_batches([batch]).cast(SIGNATURE_SCHEMA), row_group_size=SIGNATURE_ROW_GROUP)
        if len(files) < 2 and kept == total:  # one file, nothing dead: leave it
            self.fs.rm(target)
            return [], kept
        return files, kept

    def vacuum(self, retention_hours: float, dry_run: bool = False) -> list[str]:
        """Delta: delete the data files commits removed more than ``retention_hours`` ago (time
        travel to the versions that read them stops working). Hive deletes them at publish."""
        return self.delta.vacuum(retention_hours, dry_run) if self.delta is not None and self.has_delta_log() else []

    def convert_to_delta(self, run_id: str) -> int:
        """Make this Hive-layout dataset a Delta table in place: one commit that adds every
        published file as it is; returns how many. The caller holds the lock."""
        if self.has_delta_log():
            raise UsageError(f"{self.url} is a Delta table already")
        files = self._data_files(self._hive_files())
        self._delta_log().commit(1, files, [], run_id, "convert")
        return len(files)

    def _staged_ids(self, stage: str, staged: list[str]) -> tuple[list[str], dict[str, str | None]]:
        """Source ids of the inputs this run wrote, and of those it rejected (with the content
        hash the rejection read, when it got that far)."""
        written, rejected = [], {}
        for entry in self._staged_inputs(stage, staged):
            if entry.get("stage") == "match":
                continue  # a pattern, not an input
            sid = source_id(entry["source_path"], entry.get("source_line"))
            if "error_type" in entry:
                rejected[sid] = entry.get("content_sha256")
            else:
                written.append(sid)
        return written, rejected

    def _vanished_records(self, last_lines: dict[str, int]) -> list[str]:
        """Committed JSON Lines records with a row, beyond the last line their feed has now."""
        if not last_lines:
            return []
        last = {source_id(path, 0): n for path, n in last_lines.items()}
        entries = ledger.entries_of(self.index_batches(), source_paths=last)
        return sorted(
            sid
            for sid, entry in entries.items()
            if entry.outcome == ledger.WRITTEN and split_source_id(sid)[1] > last[split_source_id(sid)[0]]
        )

    def _stage_rewrites(
        self, run_id: str, source_ids: list[str], deleted: set[str], existing: list[str]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """For inputs this run processed again (or whose lines are gone), stage their old files
        rewritten without them. Hive: the rewritten file replaces the old one under its name.
        Delta: a file is never changed in place (older versions read it); the kept rows go to a
        new file of this run (returned second), which the commit adds as it removes the old one."""
        stage = self._path(STAGING, run_id)
        if not source_ids:
            return [], []
        drop_by_file: dict[str, set[str]] = {}
        for sid, rel in ledger.files_of(self.index_batches(), source_ids):
            if rel not in deleted:
                drop_by_file.setdefault(rel, set()).add(sid)
        rewrites, new_files = [], []
        published = set(existing)
        for rel, drop in sorted(drop_by_file.items()):
            if rel not in published:
                continue
            with self.fs.open(self._path(rel), "rb") as f, readable(rel):
                table = pq.read_table(f)
            ids = [source_id(r['source_path'], r['source_line']) for r in table.select(["source_path", "source_line"]).to_pylist()]
            keep = [i for i, source_id in enumerate(ids) if source_id not in drop]
            staged_rel = None
            if keep and self.delta is not None:
                partition = posixpath.dirname(rel)
                new_files.append(posixpath.join(partition, part_name(run_id, partition)))
                target = posixpath.join(stage, new_files[-1])
            elif keep:
                staged_rel = posixpath.join("_rewrite", rel)
                target = posixpath.join(stage, staged_rel)
            if keep:
                with PendingFile(self.fs, target) as out:
                    pq.write_table(table.take(keep), out, compression="zstd")
            rewrites.append({"file": rel, "staged": staged_rel, "rows_removed": len(ids) - len(keep)})
        return rewrites, new_files

    def _stage_merges(
        self,
        run_id: str,
        staged: list[str],
        untouchable: set[str],
        existing: list[str],
        min_rows: int,
        max_rows: int,
        compression: str,
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
            published = [rel for rel in existing if posixpath.dirname(rel) == partition]
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
        with self.fs.open(path, "rb") as f, readable(posixpath.relpath(path, self.root)):
            return pq.ParquetFile(f).metadata.num_rows

    def _staged_inputs(self, stage: str, staged: list[str]) -> Iterator[dict[str, Any]]:
        for rel in staged:
            if rel.endswith(".parquet"):
                with self.fs.open(posixpath.join(stage, rel), "rb") as f:
                    yield from pq.read_table(f, columns=["source_path", "source_line"]).to_pylist()
            elif rel.startswith((REJECTED + "/", DUPLICATES_DIR + "/")) and rel.endswith(".jsonl"):
                with self.fs.open(posixpath.join(stage, rel), "rt", encoding="utf-8") as f:
                    yield from (json.loads(line) for line in f)

    def _publish_journal(self, run_id: str) -> dict[str, Any]:
        """Carry out a journal; every step is safe to repeat, so a crash is rolled forward.

        Hive: move the files in, then delete what the run replaces. Delta: move the data files
        in (no Delta reader sees them yet), commit, and only then move in the index, ledger and
        signatures; the files the commit removes stay on disk for older versions. A commit that
        another writer's change makes unsafe (`TableChanged`) is not made: the publish is undone
        and the run stops, its inputs left for the next run."""
        stage = self._path(STAGING, run_id)
        journal = json.loads(self.fs.cat_file(posixpath.join(stage, JOURNAL)))
        files = [f for f in journal["files"] if f != JOURNAL]
        delta = journal.get("table_format") == "delta"
        data = [rel for rel in files if _is_data_file(rel)]
        for rel in data if delta else files:
            self._move_in(stage, rel, rel, run_id)
            faults.reached("publish-move")
        outputs = self._data_files(data)
        if delta:
            faults.reached("publish-before-commit")
            mode = journal.get("mode", "incremental")
            removed = journal.get("deletes", []) + journal.get("merged", []) + [r["file"] for r in journal.get("rewrites", [])]
            try:
                self._delta_log().commit(journal["delta_transaction"], outputs, removed, run_id, mode, data_change=mode != "compact")
            except TableChanged as exc:
                self._undo_publish(run_id, data)
                raise UsageError(
                    f"run {run_id} was not published, its inputs are left for the next run: {exc}. Run python -m "
                    f"pipeline.compact {self.url} --reindex, then run again"
                ) from exc
            faults.reached("publish-after-commit")
            for rel in files:
                if rel not in data:
                    self._move_in(stage, rel, rel, run_id)
        for rewrite in journal.get("rewrites", []):
            faults.reached("publish-rewrite")
            if rewrite["staged"]:
                self._move_in(stage, rewrite["staged"], rewrite["file"], run_id, allow_done=True)
            elif not delta and self.fs.exists(self._path(rewrite["file"])):
                self.fs.rm(self._path(rewrite["file"]))
        for rel in (journal.get("deletes", []) + journal.get("merged", []) if not delta else []) + journal.get("index_deletes", []):
            if self.fs.exists(self._path(rel)):
                self.fs.rm(self._path(rel))
        faults.reached("publish-before-manifest")
        manifest = self._manifest(run_id, files, outputs)
        manifest["mode"] = journal.get("mode", manifest.get("mode"))
        manifest["table_format"] = journal.get("table_format", "hive")
        if delta:
            manifest["delta_transaction"] = journal["delta_transaction"]
        manifest["rewritten_files"] = journal.get("rewrites", [])
        manifest["replaced_files"] = journal.get("deletes", [])
        manifest["merged_files"] = journal.get("merged", [])
        manifest["inputs_forgotten"] = journal.get("inputs_forgotten", 0)
        manifest["rejected_kept_rows"] = journal.get("rejected_kept_rows", 0)
        manifest["records_vanished"] = journal.get("records_vanished", 0)
        self._write_atomic(self.manifest_path(run_id), json.dumps(manifest, indent=2).encode() + b"\n")
        faults.reached("publish-before-cleanup")
        self.fs.rm(stage, recursive=True)
        self._remove_empty_staging()
        self.fs.pipe_file(self._path(SUCCESS), f"{run_id}\n".encode())
        return manifest

    def _undo_publish(self, run_id: str, data: list[str]) -> None:
        """Give up a Delta publish whose commit was not made: the journal goes first (a crash
        then leaves an unfinished run, which the next run deletes), then the data files it had
        moved in, which no version of the table names."""
        stage = self._path(STAGING, run_id)
        self.fs.rm(posixpath.join(stage, JOURNAL))
        for rel in data:
            if self.fs.exists(self._path(rel)):
                self.fs.rm(self._path(rel))
        self.fs.rm(stage, recursive=True)
        self._remove_empty_staging()

    def _delta_log(self) -> DeltaLog:
        """This output's Delta log (also for a Delta journal rolled forward by a Hive-mode output)."""
        return self.delta or DeltaLog(table_uri(self.url, self.fs, self.root))

    def _remove_empty_staging(self) -> None:
        if self.fs.exists(self._path(STAGING)) and not self.fs.ls(self._path(STAGING), detail=False):
            self.fs.rmdir(self._path(STAGING))

    def _move_in(self, stage: str, staged_rel: str, rel: str, run_id: str, allow_done: bool = False) -> None:
        source, target = posixpath.join(stage, staged_rel), self._path(rel)
        if self.fs.exists(source):
            self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            self.fs.mv(source, target)
        elif not allow_done and not self.fs.exists(target):
            raise RuntimeError(f"publish of run {run_id}: {rel} is neither staged nor published")

    def _data_files(self, files: list[str]) -> list[DataFile]:
        """The published data files among ``files``, with their sizes and rows."""
        outputs = []
        for rel in files:
            if _is_data_file(rel):
                with self.fs.open(self._path(rel), "rb") as f, readable(rel):
                    outputs.append(DataFile(rel, self.fs.size(self._path(rel)), pq.ParquetFile(f).metadata.num_rows))
        return outputs

    def _manifest(self, run_id: str, files: list[str], outputs: list[DataFile]) -> dict[str, Any]:
        summary = self._read_json(self._path(STAGING, run_id, RUNS, f"{run_id}.json")) or {"run_id": run_id}
        summary.pop("written_files", None)  # staging paths; output_files says where they are now
        return {
            **summary,
            "published_at": lock.now(),
            "output_files": [{"path": f.path, "rows": f.rows} for f in outputs],
            "rejection_files": [f for f in files if f.startswith(REJECTED + "/")],
            "duplicate_files": [f for f in files if f.startswith(DUPLICATES_DIR + "/")],
            "inputs_file": ledger_path(run_id),
            "index_file": ledger.INPUTS,
        }

    def _write_atomic(self, path: str, data: bytes) -> None:
        with self._atomic_file(path) as out:
            out.write(data)

    def _atomic_file(self, path: str) -> PendingFile:
        """A binary file written under a hidden temporary name, moved to ``path`` when complete."""
        return PendingFile(self.fs, path, ".tmp")


def check_no_glob(url: str, root: str) -> None:
    """A dataset's files are listed with glob patterns under its root: a root holding ``*``,
    ``?`` or ``[`` would be read as a pattern, so another folder's files (``out1`` for
    ``out[1]``) could be taken for the dataset's own, or its own missed."""
    if any(c in root for c in "*?["):
        raise UsageError(f"{url}: a dataset's path cannot hold *, ? or [ (file systems read them as patterns): choose another path, or rename the folder")


def check_schema(output: DatasetOutput) -> None:
    """Stop before any work when the dataset's files have a schema this code cannot append to.

    Compatible: the same columns, plus columns this version adds (nullable). Anything else (a
    column missing here or of another type) is named in the error.
    """
    existing = output.partition_files()
    if not existing:
        return
    with output.open(existing[-1]) as f, readable(existing[-1]):
        theirs = pq.read_schema(f)
    ours = {field.name: field for field in ARTICLE_SCHEMA}
    problems = []
    for field in theirs:
        if field.name not in ours:
            problems.append(f"{field.name} ({field.type}) is not in schema {SCHEMA_VERSION}")
        elif not field.type.equals(ours[field.name].type):
            problems.append(f"{field.name} is {field.type} there but {ours[field.name].type} here")
    added = [name for name in ours if name not in theirs.names]
    if any(not ours[name].nullable for name in added):
        problems += [f"{name} is new and not nullable" for name in added if not ours[name].nullable]
    if problems:
        version = (theirs.metadata or {}).get(SCHEMA_VERSION_KEY, b"?").decode()
        raise UsageError(
            f"{output.url} holds schema {version}, incompatible with this code's {SCHEMA_VERSION}: "
            + "; ".join(problems)
            + ". Write to a new --output, or reprocess into it with --mode rebuild."
        )


#: Why a run id the dataset has is refused.
RUN_ID_TAKEN = "already has a run of that id; its manifest, ledger and report would be overwritten"


def _is_data_file(rel: str) -> bool:
    return rel.startswith("date=") and rel.endswith(".parquet")


def _read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


