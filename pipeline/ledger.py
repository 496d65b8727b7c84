"""The committed-input index: each input's last committed outcome, in one Parquet file.

``<output>/_index/inputs.parquet`` has one row per input (a file, or one record of a JSON
Lines file; ``source_line`` is 0 for a whole file): the hash of its content, the fingerprint of
the settings that processed it, its outcome (``written`` or ``rejected``), the data file that
holds its row, and the run. A run plans from it alone, reading only the rows of the files it
matched; the publish step rewrites it in the same journal as the data, so it always names
exactly what readers see. ``_index/fingerprints.json`` maps each fingerprint to the settings it
stands for, so a run can say which settings differ.

The per-run ledgers (``_runs/<run_id>.inputs.jsonl``) stay as history; an output written before
the index existed is indexed from them once, with the fingerprint ``legacy``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.read import REJECTED_BEFORE, STALE, UNCHANGED

INDEX_DIR = "_index"
INPUTS = f"{INDEX_DIR}/inputs.parquet"
FINGERPRINTS = f"{INDEX_DIR}/fingerprints.json"
#: The fingerprint of inputs indexed from the ledgers of a version without fingerprints.
LEGACY = "legacy"
WRITTEN, REJECTED = "written", "rejected"

INDEX_SCHEMA = pa.schema(
    [
        pa.field("source_path", pa.string()),
        pa.field("source_line", pa.int32()),
        pa.field("content_sha256", pa.string()),
        pa.field("fingerprint", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("file", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("error", pa.string()),
    ]
)


def fingerprint(settings: Mapping[str, Any]) -> str:
    """A short, stable digest of everything that changes the rows an input becomes."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def differing_settings(ours: Mapping[str, Any], theirs: Mapping[str, Any] | None) -> list[str]:
    """Names of the settings that differ (all of ours when the other side is unknown)."""
    if theirs is None:
        return sorted(ours)
    return sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))


@dataclasses.dataclass(frozen=True)
class Entry:
    content_sha256: str | None
    fingerprint: str
    outcome: str
    file: str | None
    run_id: str


def source_id(path: str, line: int | None) -> str:
    """An input's id: its path, plus ``#L<n>`` for a JSON Lines record (as `Article.source_id`)."""
    return path if not line else f"{path}#L{line}"


def keys_of(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """The source ids of index rows, computed column-wise."""
    lines = pc.cast(batch["source_line"], pa.string())
    with_line = pc.binary_join_element_wise(batch["source_path"], lines, "#L")
    return pc.if_else(pc.equal(batch["source_line"], 0), batch["source_path"], with_line)


def entries_of(
    batches: Iterable[pa.RecordBatch | pa.Table], source_paths: Iterable[str] | None = None, source_ids: Iterable[str] | None = None
) -> dict[str, Entry]:
    """source id -> `Entry`, for the rows of ``source_paths`` or ``source_ids`` only (all rows
    when both are None). Streams: one batch of the index in memory at a time."""
    paths = pa.array(sorted(set(source_paths)), pa.string()) if source_paths is not None else None
    ids = pa.array(sorted(set(source_ids)), pa.string()) if source_ids is not None else None
    found: dict[str, Entry] = {}
    for batch in batches:
        if paths is not None:
            batch = batch.filter(pc.is_in(batch["source_path"], value_set=paths))
        if ids is not None:
            batch = batch.filter(pc.is_in(keys_of(batch), value_set=ids))
        if not batch.num_rows:
            continue
        columns = batch.to_pydict()
        for path, line, sha, fp, outcome, file, run in zip(
            columns["source_path"],
            columns["source_line"],
            columns["content_sha256"],
            columns["fingerprint"],
            columns["outcome"],
            columns["file"],
            columns["run_id"],
        ):
            found[source_id(path, line)] = Entry(sha, fp, outcome, file, run)
    return found


def skip_reason(entry: Entry | None, current: str, retry_rejected: bool = False, reprocess_stale: bool = False) -> str | None:
    """Why an input with this committed entry is skipped when its content is unchanged; None
    when it is processed again. A rejection is retried once the settings change (or always with
    ``retry_rejected``); rows written with other settings stay unless ``reprocess_stale``."""
    if entry is None or entry.content_sha256 is None:
        return None
    if entry.outcome == REJECTED:
        return None if retry_rejected or entry.fingerprint != current else REJECTED_BEFORE
    if entry.fingerprint == current:
        return UNCHANGED
    return None if reprocess_stale else STALE


def known_inputs(entries: Mapping[str, Entry], current: str, retry_rejected: bool, reprocess_stale: bool) -> dict[str, tuple[str, str]]:
    """The read stage's skip list (`transforms.read.Known`): source id -> (content hash, reason)."""
    known = {}
    for sid, entry in entries.items():
        reason = skip_reason(entry, current, retry_rejected, reprocess_stale)
        if reason is not None:
            known[sid] = (entry.content_sha256, reason)
    return known


def why_processed(entry: Entry | None, content_sha256: str | None) -> str:
    """Why a record that is not skipped is processed: new, changed, retry (rejected before) or
    reprocess (written with other settings)."""
    if entry is None:
        return "new"
    if entry.content_sha256 != content_sha256:
        return "changed"
    return "retry" if entry.outcome == REJECTED else "reprocess"


def as_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=INDEX_SCHEMA)


def update_index(
    old: Iterable[pa.RecordBatch | pa.Table],
    run_rows: pa.Table,
    moved: pa.Table,
    removed_files: Iterable[str],
    writer: pq.ParquetWriter,
    replace_all: bool = False,
) -> int:
    """Write the index after a publish to ``writer``, a batch of the old index at a time; return
    how many committed inputs it forgets.

    ``run_rows``: this run's inputs (their new entries replace any older ones). ``moved``:
    ``source_path, source_line, file`` of earlier runs' rows that a merge moved into a new file.
    ``removed_files``: published files the publish deletes; inputs only they held are forgotten,
    so a later incremental run ingests them again. ``replace_all``: a rebuild forgets everything.
    """
    removed = pa.array(sorted(set(removed_files)), pa.string())
    run_ids = keys_of(run_rows) if run_rows.num_rows else pa.array([], pa.string())
    moved_ids = keys_of(moved) if moved.num_rows else pa.array([], pa.string())
    forgotten = 0
    for batch in old:
        batch = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        ids = keys_of(batch)
        superseded = pc.is_in(ids, value_set=run_ids)
        if replace_all:
            forgotten += batch.num_rows - _count(superseded)
            continue
        where = pc.index_in(ids, value_set=moved_ids)
        is_moved = pc.is_valid(where)
        if moved.num_rows:
            batch = batch.set_column(
                batch.schema.get_field_index("file"), "file", pc.if_else(is_moved, pc.take(moved["file"], where), batch["file"])
            )
        gone = pc.and_(pc.fill_null(pc.is_in(batch["file"], value_set=removed), False), pc.invert(is_moved))
        forgotten += _count(pc.and_(gone, pc.invert(superseded)))
        keep = pc.invert(pc.or_(superseded, gone))
        writer.write_table(batch.filter(keep).cast(INDEX_SCHEMA))
    if run_rows.num_rows:
        writer.write_table(run_rows.cast(INDEX_SCHEMA))
    return forgotten


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


#: Rows per row group of the index file: what planning and publishing hold of it at a time.
INDEX_ROW_GROUP = 64 * 1024


def index_writer(out) -> pq.ParquetWriter:
    return pq.ParquetWriter(out, INDEX_SCHEMA, compression="zstd")


def write_index(table: pa.Table, out) -> None:
    pq.write_table(table.cast(INDEX_SCHEMA), out, compression="zstd", row_group_size=INDEX_ROW_GROUP)


def read_batches(f) -> Iterable[pa.RecordBatch]:
    """The index, a row group at a time."""
    return pq.ParquetFile(f).iter_batches(batch_size=INDEX_ROW_GROUP)
