"""Duplicate stage: marks (or drops) articles whose cleaned body repeats one seen before.

    articles -> fingerprint (body_sha256, MinHash, LSH band keys) -> parked in files
             -> per shard of the band keys: the buckets that hold two articles or more, with
                committed articles whose keys match -> each article's first copy in each
             -> per article: its first copy (committed first, then lowest source id)
             -> mark: duplicate_of + similarity on the row | drop: a `DuplicateOf` record instead

`FindDuplicates` makes the decisions, `MarkDuplicates` applies them after cleaning and before
NER, so a dropped copy costs no NER. Neither articles nor fingerprints go through the runner's
shuffles: the fingerprints are parked in Parquet files (under the run's ``_spill/``) and only the
files' names travel; each shard of the band keys reads the (key, member) pairs it owns as arrays,
then only the members of shared buckets whole. A single-process runner holds every PCollection
that crosses a stage in memory, so this keeps the stage's memory to a shard's arrays, not the
run's fingerprints. The decisions (one per duplicate) reach the articles as a side input.

Committed articles' signatures live under the output (``_index/minhash-*.parquet``), a Parquet file
per bundle and window (see `_WriteSignaturesFn`); a run reads only their ``keys`` column to find the rows that
share a key with its own articles, so memory follows the run's size, not the index's. Whether a
committed candidate is still in the dataset (not replaced, rebuilt away or rejected since) is
asked of ``committed.alive``, which the pipeline layer provides from its committed-input index.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
import uuid
from typing import Any, Iterable, Iterator, Protocol, Sequence

import apache_beam as beam
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.utils.windowed_value import WindowedValue

from schemas.article import Article, canonical_source_id
from transforms.parquet_files import PendingFile
from transforms.near_duplicates import Fingerprint, body_sha256, first_copy, rank
from transforms.spill import SPILL_DIR
from transforms.windows import window_suffix

_LOG = logging.getLogger(__name__)
MARK, DROP, OFF = "mark", "drop", "off"
POLICIES = (MARK, DROP, OFF)
#: Tagged output of dropped copies.
DROPPED = "dropped"
#: The signature files of the articles a run keeps (relative to its output): beside the
#: committed-input index, where a partition glob (``date=*/topic=*/*.parquet``, ``*/*/*.parquet``)
#: does not take them.
SIGNATURES = "_index/minhash-*.parquet"
#: Where dropped copies are listed, one JSON line each (relative to the output).
DUPLICATES_DIR = "_duplicates"

#: Rows per row group of a signature file: what a lookup reads of it at a time.
SIGNATURE_ROW_GROUP = 4096
SIGNATURE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("body_sha256", pa.string()),
        pa.field("signature", pa.binary()),
        pa.field("keys", pa.list_(pa.int64())),
    ]
)


@dataclasses.dataclass(frozen=True)
class DuplicateOf:
    """An article found to repeat an earlier one: on the row (mark) or instead of it (drop)."""

    article_id: str
    source_path: str
    source_line: int | None
    content_sha256: str
    duplicate_of: str
    original_source_id: str
    similarity: float
    #: The same normalised body (``body_sha256``), not only a similar one.
    exact: bool
    #: The first copy was committed by an earlier run (not in this run).
    committed: bool
    dropped: bool

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


class CommittedSignatures(Protocol):
    """What the stage needs of an output's committed articles (provided by the pipeline layer)."""

    def parts(self) -> Sequence[str]:
        """URLs of the committed signature files."""

    def alive(self, candidates: Sequence[Fingerprint]) -> Iterable[Fingerprint]:
        """Those of ``candidates`` whose article is still in the dataset."""


def _table(fingerprints: Sequence[Fingerprint]) -> pa.Table:
    return pa.Table.from_pylist([_row(fp) for fp in fingerprints], schema=SIGNATURE_SCHEMA)


def _row(fp: Fingerprint) -> dict[str, Any]:
    return {"article_id": fp.article_id, "source_id": fp.source_id, "body_sha256": fp.body_sha256, "signature": fp.signature, "keys": list(fp.keys)}


def matching_signatures(f, keys: pa.Array) -> Iterator[Fingerprint]:
    """The committed fingerprints in one signature file that share a key with ``keys``; reads the
    other columns only of the row groups that have a match."""
    parquet = pq.ParquetFile(f)
    for group in range(parquet.num_row_groups):
        column = parquet.read_row_group(group, columns=["keys"])["keys"].combine_chunks()
        hits = pc.is_in(pc.list_flatten(column), value_set=keys)
        if not pc.any(hits).as_py():
            continue
        rows = np.unique(pc.list_parent_indices(column).to_numpy()[hits.to_numpy(zero_copy_only=False)])
        table = parquet.read_row_group(group).take(pa.array(rows))
        for row in table.to_pylist():
            yield Fingerprint(row["article_id"], row["source_id"], row["body_sha256"], row["signature"], tuple(row["keys"]))


def _fingerprint(article: Article) -> Fingerprint:
    return Fingerprint.of(article.article_id, article.source_id, article.body or "")


class _LookupCommittedFn(beam.DoFn):
    """A committed signature file -> its fingerprints that share a key with this run's (read
    from the run's fingerprint files, once per window, as arrays: not one object per key)."""

    def __init__(self):
        self._run: tuple[Any, pa.Array, pa.Array] | None = None

    def process(self, part: str, run_files: list[str], window=beam.DoFn.WindowParam) -> Iterator[Fingerprint]:
        if self._run is None or self._run[0] != window:
            keys, sources = [], []
            for path in sorted(set(run_files)):
                with fsspec.open(path, "rb") as f:
                    table = pq.read_table(f, columns=["source_id", "keys"])
                keys.append(pc.list_flatten(table["keys"]).to_numpy())
                sources.append(table["source_id"].combine_chunks())
            unique_keys = np.unique(np.concatenate(keys)) if keys else np.array([], dtype=np.int64)
            self._run = (window, pa.array(unique_keys), pa.concat_arrays(sources) if sources else pa.array([], pa.string()))
        try:
            with fsspec.open(part, "rb") as f:
                found = list(matching_signatures(f, self._run[1]))
        except (OSError, ValueError, pa.ArrowException) as exc:
            _LOG.warning("skipping unreadable signature file %s: %s", part, exc)
            return
        if found:
            # This run's own inputs are processed again: their committed rows are being replaced.
            again = pc.is_in(pa.array([canonical_source_id(fp.source_id) for fp in found], pa.string()), value_set=self._run[2]).to_pylist()
            yield from (fp for fp, replaced in zip(found, again) if not replaced)


def _alive(keyed: tuple[Any, Iterable[Fingerprint]], committed: CommittedSignatures) -> Iterable[Fingerprint]:
    return committed.alive(list(keyed[1]))


#: The band keys are looked at in this many shards, one at a time, so that a worker holds the
#: memberships of a shard, not of the whole run.
SHARDS = 8


def _member_ids(article_ids: Sequence[str]) -> np.ndarray:
    """A bucket member's id: 64 bits of its article id (a hex digest) as a signed integer."""
    return np.array([int(a[:16], 16) - (1 << 63) for a in article_ids], dtype=np.int64)


def _pack(fp: Fingerprint) -> tuple[str, str, bytes, bytes]:
    return fp.article_id, fp.source_id, bytes.fromhex(fp.body_sha256), fp.signature


def _unpack(packed: tuple[str, str, bytes, bytes]) -> Fingerprint:
    article_id, source_id, sha, sig = packed
    return Fingerprint(article_id, source_id, sha.hex(), sig, ())


def _read_fingerprints(path: str, columns: list[str]) -> Iterator[pa.RecordBatch]:
    with fsspec.open(path, "rb") as f:
        yield from pq.ParquetFile(f).iter_batches(columns=columns, batch_size=SIGNATURE_ROW_GROUP)


class _BucketsOfShardFn(beam.DoFn):
    """(shard, the run's fingerprint files) + the committed candidates -> (article id, its first
    copy in a bucket) for each bucket of the shard that holds two articles or more.

    Two passes over the files: the shard's (band key, member) pairs, as arrays, find the shared
    buckets; then only the members of those are read whole. Nothing of the run travels through
    the runner but file names, so a single-process runner does not hold it in memory."""

    def __init__(self, threshold: float):
        self._threshold = threshold

    def process(self, keyed: tuple[int, Iterable[str]], committed: list[Fingerprint]) -> Iterator[tuple[str, tuple]]:
        shard, paths = keyed
        paths = sorted(set(paths))
        keys, members, flags = [], [], []  # band key, member id, 1 for a committed member
        for path in paths:
            for batch in _read_fingerprints(path, ["article_id", "keys"]):
                flat = pc.list_flatten(batch["keys"]).to_numpy()
                mine = flat % SHARDS == shard
                if mine.any():
                    rows = pc.list_parent_indices(batch["keys"]).to_numpy()[mine]
                    keys.append(flat[mine])
                    members.append(_member_ids(batch["article_id"].to_pylist())[rows])
                    flags.append(np.zeros(len(rows), dtype=np.int64))
        theirs = {}  # committed member id -> fingerprint
        for fp in committed:
            mine = [k for k in fp.keys if k % SHARDS == shard]
            if mine:
                member = int(_member_ids([fp.article_id])[0])
                theirs[member] = fp
                keys.append(np.array(mine, dtype=np.int64))
                members.append(np.full(len(mine), member, dtype=np.int64))
                flags.append(np.ones(len(mine), dtype=np.int64))
        if not keys:
            return
        triples = np.unique(np.stack([np.concatenate(keys), np.concatenate(members), np.concatenate(flags)], axis=1), axis=0)
        bucket_keys, counts = np.unique(triples[:, 0], return_counts=True)
        shared = triples[np.isin(triples[:, 0], bucket_keys[counts > 1])]
        if not len(shared):
            return
        wanted = np.unique(shared[shared[:, 2] == 0][:, 1])
        ours: dict[int, Fingerprint] = {}
        for path in paths:
            for batch in _read_fingerprints(path, ["article_id", "source_id", "body_sha256", "signature"]):
                ids = _member_ids(batch["article_id"].to_pylist())
                rows = np.flatnonzero(np.isin(ids, wanted))
                if len(rows):
                    for i, row in zip(rows, batch.take(pa.array(rows)).to_pylist()):
                        ours[int(ids[i])] = Fingerprint(row["article_id"], row["source_id"], row["body_sha256"], row["signature"], ())
        buckets: dict[int, list[tuple[tuple, bool]]] = {}
        for key, member, committed_flag in shared.tolist():
            fp = theirs.get(member) if committed_flag else ours.get(member)
            if fp is not None:
                buckets.setdefault(key, []).append((_pack(fp), bool(committed_flag)))
        for key, bucket in buckets.items():
            yield from _bucket_candidates((key, bucket), self._threshold)


def _bucket_candidates(keyed: tuple[int, Iterable[tuple[tuple, bool]]], threshold: float) -> Iterator[tuple[str, tuple]]:
    """A bucket's members -> (article id, (its first copy in this bucket, similarity, committed))."""
    _, members = keyed
    members = list({(packed[0], committed): (_unpack(packed), committed) for packed, committed in members}.values())
    if len(members) < 2:
        return
    members.sort(key=rank)  # committed first, then source order
    for i, (fp, committed) in enumerate(members):
        if committed:
            continue
        found = first_copy(fp, members[:i], threshold)
        if found:
            original, sim, is_committed = found
            exact = original.body_sha256 == fp.body_sha256
            yield fp.article_id, (original.article_id, original.source_id, sim, is_committed, exact)


def _decide(keyed: tuple[str, Iterable[tuple]]) -> tuple[str, tuple]:
    """All of an article's per-bucket first copies -> the one it duplicates."""
    article_id, found = keyed
    return article_id, min(found, key=lambda f: (not f[3], f[1]))


class _ApplyFn(beam.DoFn):
    def __init__(self, policy: str):
        self._policy = policy

    def process(self, article: Article, decisions: dict[str, tuple]) -> Iterator[Any]:
        article = dataclasses.replace(article, body_sha256=body_sha256(article.body or ""))
        decision = decisions.get(article.article_id)
        if decision is None:
            yield article
            return
        original_id, original_sid, sim, committed, exact = decision
        dup = DuplicateOf(
            article.article_id, article.source_path, article.source_line, article.content_sha256,
            original_id, original_sid, round(sim, 4), exact, committed, self._policy == DROP,
        )
        yield beam.pvalue.TaggedOutput("found", dup)
        if self._policy == DROP:
            yield beam.pvalue.TaggedOutput(DROPPED, dup)
        else:
            yield dataclasses.replace(article, duplicate_of=original_id, similarity=round(sim, 4))


class _WriteSignaturesFn(beam.DoFn):
    """The kept articles' fingerprints -> one signature file per bundle and window, written
    `SIGNATURE_ROW_GROUP` rows at a time so a big bundle is never held whole."""


    def __init__(self, output: str, run_id: str):
        self._output, self._run_id = output, run_id

    def setup(self) -> None:
        self._fs, self._root = fsspec.core.url_to_fs(self._output)

    def start_bundle(self) -> None:
        self._files: dict[Any, tuple[PendingFile, pq.ParquetWriter, list[Fingerprint]]] = {}

    def process(self, fp: Fingerprint, window=beam.DoFn.WindowParam) -> None:
        if window not in self._files:
            name = SIGNATURES.replace("*", f"{self._run_id}{window_suffix(window)}-{uuid.uuid4().hex[:12]}")
            pending = PendingFile(self._fs, posixpath.join(self._root, name), ".inprogress")
            self._files[window] = (pending, pq.ParquetWriter(pending.out, SIGNATURE_SCHEMA, compression="zstd"), [])
        _, writer, rows = self._files[window]
        rows.append(fp)
        if len(rows) >= SIGNATURE_ROW_GROUP:
            writer.write_table(_table(rows))
            rows.clear()

    def finish_bundle(self) -> Iterator[Any]:
        for window, (pending, writer, rows) in self._files.items():
            if rows:
                writer.write_table(_table(rows))
            writer.close()
            pending.finish()
            pending.rename()  # under its hidden name until complete: a killed worker leaves no half file
            yield WindowedValue(self._fs.unstrip_protocol(pending.final), window.max_timestamp(), [window])
        self._files = {}


class _WriteDroppedFn(beam.DoFn):
    def __init__(self, output: str, run_id: str):
        self._output, self._run_id = output, run_id

    def process(self, keyed: tuple[str, Iterable[DuplicateOf]], window=beam.DoFn.WindowParam) -> Iterator[str]:
        path = posixpath.join(self._output.rstrip("/"), DUPLICATES_DIR, f"{self._run_id}{window_suffix(window)}.jsonl")
        with fsspec.open(path, "w", encoding="utf-8", auto_mkdir=True) as out:
            for dup in sorted(keyed[1], key=lambda d: (d.source_path, d.source_line or 0)):
                out.write(dup.to_json() + "\n")
        yield path


def _check(policy: str) -> None:
    if policy not in (MARK, DROP):
        raise ValueError(f"policy {policy!r}: one of {MARK}, {DROP} (with {OFF}, leave the stage out)")


class FindDuplicates(beam.PTransform):
    """Cleaned articles -> decisions, ``(article_id, (original_id, original_source_id, similarity,
    committed, exact))`` for each duplicate; the kept articles' signatures are written to
    ``output``'s ``_index/minhash-*.parquet`` (``output``: where the run writes, its staging).

    The articles' own path must not wait for the decisions with the articles in the runner's
    memory (a single-process runner would hold every cleaned article until the last decision is
    made): the pipeline parks them in files meanwhile (`transforms.spill`).
    """

    def __init__(self, threshold: float, policy: str, output: str, run_id: str, committed: CommittedSignatures | None = None):
        super().__init__()
        _check(policy)
        self._threshold, self._policy = threshold, policy
        self._output, self._run_id, self._committed = output, run_id, committed

    def expand(self, articles):
        # The run's fingerprints are parked in files (one per bundle and window); only their
        # names travel, so a single-process runner never holds a run's fingerprints in memory.
        spilled = (
            articles
            | "Fingerprint" >> beam.Map(_fingerprint)
            | "ParkFingerprints" >> beam.ParDo(_WriteSignaturesFn(posixpath.join(self._output, SPILL_DIR, "fingerprints"), self._run_id))
        )
        committed = articles.pipeline | "NoCommitted" >> beam.Create([])
        parts = list(self._committed.parts()) if self._committed is not None else []
        if parts:
            committed = (
                articles.pipeline
                | "CommittedParts" >> beam.Create(parts)
                | "Spread" >> beam.Reshuffle()
                | "LookupCommitted" >> beam.ParDo(_LookupCommittedFn(), beam.pvalue.AsList(spilled))
                # Few (only those sharing a key with the run): asked together, one index scan.
                | "CommittedCandidates" >> beam.WithKeys(lambda fp: 0)
                | "Together" >> beam.GroupByKey()
                | "StillInDataset" >> beam.FlatMap(_alive, self._committed)
            )
        decisions = (
            spilled
            | "ToShards" >> beam.FlatMap(lambda path: [(shard, path) for shard in range(SHARDS)])
            | "FilesPerShard" >> beam.GroupByKey()
            | "Buckets" >> beam.ParDo(_BucketsOfShardFn(self._threshold), beam.pvalue.AsList(committed))
            | "PerArticle" >> beam.GroupByKey()
            | "Decide" >> beam.Map(_decide)
        )
        # The dropped copies leave the signatures; under mark every article stays (no need to wait).
        dropped = (beam.pvalue.AsDict(decisions),) if self._policy == DROP else ()
        spilled | "WriteSignatures" >> beam.ParDo(_KeptSignaturesFn(self._output, self._run_id), *dropped)
        return decisions


class _KeptSignaturesFn(beam.DoFn):
    """A parked fingerprint file -> the signature file of the articles the run keeps (all of
    them, or without the dropped copies), under ``output``'s ``_index/``, named after the parked
    file so that a retried bundle writes the same file again, not a second one."""

    def __init__(self, output: str, run_id: str):
        self._output, self._run_id = output, run_id

    def setup(self) -> None:
        self._fs, self._root = fsspec.core.url_to_fs(self._output)

    def process(self, path: str, dropped: dict[str, tuple] | None = None) -> Iterator[str]:
        stem = posixpath.basename(path).rsplit(".", 1)[0].replace("minhash-", "", 1)
        target = posixpath.join(self._root, SIGNATURES.replace("*", f"{stem}-kept"))
        rows: list[Fingerprint] = []
        with PendingFile(self._fs, target, ".inprogress") as out, pq.ParquetWriter(out, SIGNATURE_SCHEMA, compression="zstd") as writer:
            for batch in _read_fingerprints(path, SIGNATURE_SCHEMA.names):
                for row in batch.to_pylist():
                    if not (dropped and row["article_id"] in dropped):
                        rows.append(Fingerprint(row["article_id"], row["source_id"], row["body_sha256"], row["signature"], tuple(row["keys"])))
                if len(rows) >= SIGNATURE_ROW_GROUP:
                    writer.write_table(_table(rows))
                    rows.clear()
            if rows:
                writer.write_table(_table(rows))
        yield self._fs.unstrip_protocol(target)


class MarkDuplicates(beam.PTransform):
    """Cleaned articles + the decisions of `FindDuplicates` -> articles (marked, or without the
    dropped copies; every one with its ``body_sha256``), with tagged outputs ``found`` (a
    `DuplicateOf` per duplicate) and ``dropped`` (the dropped ones, also listed in ``output``'s
    ``_duplicates/<run_id>.jsonl``)."""

    def __init__(self, policy: str, decisions, output: str, run_id: str):
        super().__init__()
        _check(policy)
        self._policy, self._decisions = policy, decisions
        self._output, self._run_id = output, run_id

    def expand(self, articles):
        applied = articles | "Apply" >> beam.ParDo(_ApplyFn(self._policy), beam.pvalue.AsDict(self._decisions)).with_outputs(
            "found", DROPPED, main="articles"
        )
        (
            applied[DROPPED]
            | "OneList" >> beam.WithKeys(lambda d: "dropped")
            | "GroupDropped" >> beam.GroupByKey()
            | "WriteDropped" >> beam.ParDo(_WriteDroppedFn(self._output, self._run_id))
        )
        return applied
