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
import posixpath
from typing import Any, Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.article import LOCAL_URL_PREFIX, canonical_source_id, source_id
from transforms.duplicates import DUPLICATES_DIR
from transforms.read import REJECTED_BEFORE, STALE, UNCHANGED

RUNS = "_runs"
REJECTIONS = "_rejected"
INDEX_DIR = "_index"
INPUTS = f"{INDEX_DIR}/inputs.parquet"
FINGERPRINTS = f"{INDEX_DIR}/fingerprints.json"
#: The fingerprint of inputs indexed from the ledgers of a version without fingerprints.
LEGACY = "legacy"
WRITTEN, REJECTED = "written", "rejected"
#: A copy --dedup drop left out: no row, skipped like a written input until it changes.
DUPLICATE = "duplicate"

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


def local_paths(paths: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``source_path`` values as `schemas.article.source_id` reads them (``file:///x`` is ``/x``),
    column-wise."""
    return pc.replace_substring_regex(paths, pattern=f"^{LOCAL_URL_PREFIX}/", replacement="/")


def keys_of(batch: pa.RecordBatch | pa.Table, as_stored: bool = False) -> pa.Array:
    """The source ids of index rows, computed column-wise (as `schemas.article.source_id`;
    ``as_stored``: with the path as the row holds it, ``file://`` left on)."""
    paths = batch["source_path"] if as_stored else local_paths(batch["source_path"])
    lines = pc.cast(batch["source_line"], pa.string())
    with_line = pc.binary_join_element_wise(paths, lines, "#L")
    return pc.if_else(pc.equal(batch["source_line"], 0), paths, with_line)


def entries_of(
    batches: Iterable[pa.RecordBatch | pa.Table], source_paths: Iterable[str] | None = None, source_ids: Iterable[str] | None = None
) -> dict[str, Entry]:
    """source id -> `Entry`, for the rows of ``source_paths`` or ``source_ids`` only (all rows
    when both are None). Streams: one batch of the index in memory at a time."""
    paths = pa.array(sorted({source_id(p, 0) for p in source_paths}), pa.string()) if source_paths is not None else None
    ids = pa.array(sorted({canonical_source_id(s) for s in source_ids}), pa.string()) if source_ids is not None else None
    found: dict[str, Entry] = {}
    for batch in batches:
        if paths is not None:
            batch = batch.filter(pc.is_in(local_paths(batch["source_path"]), value_set=paths))
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


def files_of(batches: Iterable[pa.RecordBatch | pa.Table], source_ids: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(source id, data file) of every index row of ``source_ids`` that names a file: an input
    an earlier version indexed under two spellings (a path and a ``file://`` URL) has two."""
    ids = pa.array(sorted({canonical_source_id(s) for s in source_ids}), pa.string())
    for batch in batches:
        keys = keys_of(batch)
        hit = pc.and_(pc.is_in(keys, value_set=ids), pc.is_valid(batch["file"]))
        if pc.any(hit).as_py():
            yield from zip(keys.filter(hit).to_pylist(), batch["file"].filter(hit).to_pylist())


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
    dropped: Iterable[str] = (),
) -> int:
    """Write the index after a publish to ``writer``, a batch of the old index at a time; return
    how many committed inputs with rows it forgets (their rows went with the removed files).

    ``run_rows``: this run's inputs (their new entries replace any older ones). ``moved``:
    ``source_path, source_line, file`` of earlier runs' rows that a merge moved into a new file.
    ``removed_files``: published files the publish deletes; inputs only they held are forgotten,
    so a later incremental run ingests them again. ``replace_all``: a rebuild forgets everything.
    ``dropped``: source ids whose entries go (JSON Lines records their feed no longer has).
    """
    removed = pa.array(sorted(set(removed_files)), pa.string())
    ours = keys_of(run_rows).combine_chunks() if run_rows.num_rows else pa.array([], pa.string())
    run_ids = pa.concat_arrays([ours.cast(pa.string()), pa.array(sorted(set(dropped)), pa.string())])
    moved_ids = keys_of(moved) if moved.num_rows else pa.array([], pa.string())
    forgotten = 0
    for batch in old:
        batch = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        ids = keys_of(batch)
        superseded = pc.is_in(ids, value_set=run_ids)
        if replace_all:  # every older entry goes; the count is of those that had rows
            forgotten += _count(pc.and_(pc.equal(batch["outcome"], WRITTEN), pc.invert(superseded)))
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
    """The index, a row group at a time; a ValueError when the file is not an index."""
    parquet = pq.ParquetFile(f)
    missing = [name for name in ("source_path", "source_line", "content_sha256", "outcome", "file") if name not in parquet.schema_arrow.names]
    if missing:
        raise ValueError(f"it has no column {', '.join(missing)}")
    return parquet.iter_batches(batch_size=INDEX_ROW_GROUP)


def ledger_path(run_id: str) -> str:
    """A run's ledger: a line per input it wrote, moved (by a merge), rejected or dropped as a duplicate."""
    return posixpath.join(RUNS, f"{run_id}.inputs.jsonl")


def write_run_ledger(fs, stage: str, staged: list[str], run_id: str, fingerprint: str, out) -> tuple[pa.Table, pa.Table]:
    """Stream the run's ledger from its staged files (relative to ``stage``) into ``out``; return
    this run's index rows and the (source_path, source_line, file) of rows a merge moved."""
    run_rows: list[dict[str, Any]] = []
    moved: dict[str, list] = {"source_path": [], "source_line": [], "file": []}
    for rel in staged:
        path = posixpath.join(stage, rel)
        if rel.endswith(".parquet"):
            with fs.open(path, "rb") as f:
                parquet = pq.ParquetFile(f)
                partition = posixpath.dirname(rel)
                for batch in parquet.iter_batches(columns=["source_path", "source_line", "content_sha256", "run_id"]):
                    for row in batch.to_pylist():
                        # A row another run wrote is here because a merge moved it into this file.
                        outcome = "written" if row.pop("run_id") == run_id else "moved"
                        _write_line(out, {**row, "outcome": outcome, "partition": partition, "file": rel})
                        line = row["source_line"] or 0
                        if outcome == "moved":
                            moved["source_path"].append(row["source_path"])
                            moved["source_line"].append(line)
                            moved["file"].append(rel)
                        else:
                            run_rows.append(_index_row(row, fingerprint, WRITTEN, rel, run_id))
        elif rel.startswith(REJECTIONS + "/") and rel.endswith(".jsonl"):
            with fs.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    entry = json.loads(line)
                    _write_line(out, {**entry, "outcome": "rejected"})
                    if entry.get("stage") != "match":  # a pattern, not an input
                        error = f"{entry.get('stage')}:{entry.get('error_type')}"
                        run_rows.append(_index_row(entry, fingerprint, REJECTED, None, run_id, error))
        elif rel.startswith(DUPLICATES_DIR + "/") and rel.endswith(".jsonl"):
            with fs.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    entry = json.loads(line)
                    _write_line(out, {**entry, "outcome": DUPLICATE})
                    run_rows.append(_index_row(entry, fingerprint, DUPLICATE, None, run_id))
    moved_table = pa.table(
        {
            "source_path": pa.array(moved["source_path"], pa.string()),
            "source_line": pa.array(moved["source_line"], pa.int32()),
            "file": pa.array(moved["file"], pa.string()),
        }
    )
    return as_table(run_rows), moved_table


def legacy_rows(fs, root: str, manifests: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Index rows from the per-run ledgers of a version without the index (``manifests`` oldest
    first): each input's latest committed outcome; inputs whose file a later run replaced are
    forgotten."""
    latest: dict[str, dict[str, Any]] = {}
    wrote: dict[str, str] = {}  # source id -> the run that wrote its row (a merge moves it, keeps the run)
    for manifest in manifests:
        # Rows of merged files reappear below, in this run's ledger, as "moved".
        for rel in manifest.get("replaced_files", []) + manifest.get("merged_files", []):
            for sid in [k for k, v in latest.items() if v.get("file") == rel]:
                del latest[sid]
        inputs_file = manifest.get("inputs_file")
        if not inputs_file or not fs.exists(posixpath.join(root, inputs_file)):
            continue
        with fs.open(posixpath.join(root, inputs_file), "rt", encoding="utf-8") as f:
            for line in f:
                entry = json.loads(line)
                if entry.get("stage") == "match":
                    continue
                sid = source_id(entry["source_path"], entry.get("source_line"))
                rejected = entry["outcome"] == "rejected"
                if entry["outcome"] != "moved":
                    wrote[sid] = manifest["run_id"]
                run = wrote.get(sid, manifest["run_id"])
                error = f"{entry.get('stage')}:{entry.get('error_type')}" if rejected else None
                outcome = REJECTED if rejected else (DUPLICATE if entry["outcome"] == DUPLICATE else WRITTEN)
                latest[sid] = _index_row(entry, LEGACY, outcome, entry.get("file"), run, error)
    yield from latest.values()


def _index_row(
    entry: dict[str, Any], fingerprint: str, outcome: str, file: str | None, run_id: str | None, error: str | None = None
) -> dict[str, Any]:
    return {
        "source_path": entry["source_path"],
        "source_line": entry.get("source_line") or 0,
        "content_sha256": entry.get("content_sha256"),
        "fingerprint": fingerprint,
        "outcome": outcome,
        "file": file,
        "run_id": run_id,
        "error": error,
    }


def _write_line(out, record: dict[str, Any]) -> None:
    out.write((json.dumps(record, sort_keys=True) + "\n").encode())
