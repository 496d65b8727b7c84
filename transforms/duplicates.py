"""Duplicate stage: marks (or drops) articles whose cleaned body repeats one seen before.

    articles -> fingerprint (body_sha256, MinHash, LSH band keys)
             -> meet in buckets by band key, with committed articles whose keys match
             -> each article's first copy (committed first, then lowest source id)
             -> mark: duplicate_of + similarity on the row | drop: a `DuplicateOf` record instead

`FindDuplicates` makes the decisions, `MarkDuplicates` applies them after cleaning and before
NER, so a dropped copy costs no NER. Only fingerprints are shuffled, never articles; the
decisions (one per duplicate) reach the articles as a side input.

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

from schemas.article import Article
from transforms.parquet_files import PendingFile
from transforms.near_duplicates import Fingerprint, body_sha256, first_copy, rank
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
    """A committed signature file -> its fingerprints that share a key with this run's."""

    def __init__(self):
        self._keys: tuple[Any, pa.Array, set[str]] | None = None

    def process(self, part: str, run_keys: list[int], run_sources: list[str], window=beam.DoFn.WindowParam) -> Iterator[Fingerprint]:
        if self._keys is None or self._keys[0] != window:  # the same side inputs for a window
            self._keys = (window, pa.array(np.unique(np.asarray(run_keys, dtype=np.int64))), set(run_sources))
        try:
            with fsspec.open(part, "rb") as f:
                # This run's own inputs are processed again: their committed rows are being replaced.
                found = [fp for fp in matching_signatures(f, self._keys[1]) if fp.source_id not in self._keys[2]]
        except (OSError, ValueError, pa.ArrowException) as exc:
            _LOG.warning("skipping unreadable signature file %s: %s", part, exc)
            return
        yield from found


def _alive(keyed: tuple[Any, Iterable[Fingerprint]], committed: CommittedSignatures) -> Iterable[Fingerprint]:
    return committed.alive(list(keyed[1]))


def _member(article_id: str, committed: bool) -> tuple[int, bool]:
    """A bucket member's id: 64 bits of its article id (a hex digest) as a signed integer."""
    return int(article_id[:16], 16) - (1 << 63), committed


def _pack(fp: Fingerprint) -> tuple[str, str, bytes, bytes]:
    return fp.article_id, fp.source_id, bytes.fromhex(fp.body_sha256), fp.signature


def _unpack(packed: tuple[str, str, bytes, bytes]) -> Fingerprint:
    article_id, source_id, sha, sig = packed
    return Fingerprint(article_id, source_id, sha.hex(), sig, ())


def _shared_bucket(keyed: tuple[int, Iterable[tuple[int, bool]]]) -> Iterator[tuple[tuple[int, bool], int]]:
    """A bucket's members -> (member, band key) for each, when it holds two members or more."""
    key, members = keyed
    members = set(members)
    if len(members) > 1:
        for member in members:
            yield member, key


def _shared_members(keyed: tuple[tuple[int, bool], dict[str, Iterable]]) -> Iterator[tuple[int, tuple[tuple, bool]]]:
    """A member's packed signature and its shared buckets -> (band key, (packed, committed)) each."""
    (_, committed), found = keyed
    packed = next(iter(found["signature"]), None)
    if packed is not None:
        for key in set(found["shared"]):
            yield key, (packed, committed)


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
            yield WindowedValue(pending.final, window.max_timestamp(), [window])
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
        threshold = self._threshold
        fps = articles | "Fingerprint" >> beam.Map(_fingerprint)
        run = fps | "RunSignatures" >> beam.Map(lambda fp: ((fp.article_id, False), fp))
        signed = [run]
        parts = list(self._committed.parts()) if self._committed is not None else []
        if parts:
            run_keys = fps | "KeysOnly" >> beam.FlatMap(lambda fp: fp.keys)
            run_sources = fps | "SourcesOnly" >> beam.Map(lambda fp: fp.source_id)
            committed = (
                articles.pipeline
                | "CommittedParts" >> beam.Create(parts)
                | "Spread" >> beam.Reshuffle()
                | "LookupCommitted" >> beam.ParDo(_LookupCommittedFn(), beam.pvalue.AsList(run_keys), beam.pvalue.AsList(run_sources))
                # Few (only those sharing a key with the run): asked together, one index scan.
                | "CommittedCandidates" >> beam.WithKeys(lambda fp: 0)
                | "Together" >> beam.GroupByKey()
                | "StillInDataset" >> beam.FlatMap(_alive, self._committed)
            )
            signed.append(committed | "CommittedSignatures" >> beam.Map(lambda fp: ((fp.article_id, True), fp)))
        signed = signed | "AllSignatures" >> beam.Flatten()
        # Two shuffles, so that signatures travel once per article, not once per band: first
        # only (band key, member id) pairs, to find the buckets that hold two articles or more;
        # then each article's signature, joined to its shared buckets (most buckets hold one).
        # Both carry plain tuples of ints, strings and bytes, which Beam encodes compactly.
        shared = (
            signed
            | "Memberships" >> beam.FlatMap(lambda kv: [(k, _member(*kv[0])) for k in kv[1].keys])
            | "Buckets" >> beam.GroupByKey()
            | "SharedBuckets" >> beam.FlatMap(_shared_bucket)
        )
        decisions = (
            {"signature": signed | "Compact" >> beam.MapTuple(lambda member, fp: (_member(*member), _pack(fp))), "shared": shared}
            | "WithSignatures" >> beam.CoGroupByKey()
            | "SharedMembers" >> beam.FlatMap(_shared_members)
            | "Meet" >> beam.GroupByKey()
            | "Candidates" >> beam.FlatMap(_bucket_candidates, threshold)
            | "PerArticle" >> beam.GroupByKey()
            | "Decide" >> beam.Map(_decide)
        )
        kept = fps
        if self._policy == DROP:
            kept = fps | "WithoutDropped" >> beam.Filter(lambda fp, found: fp.article_id not in found, beam.pvalue.AsDict(decisions))
        kept | "WriteSignatures" >> beam.ParDo(_WriteSignaturesFn(self._output, self._run_id))
        return decisions


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
