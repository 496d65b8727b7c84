"""Write stage: Hive-partitioned Parquet through fsspec, one file per partition per bundle.

Articles stream into open Parquet writers, one per partition directory
(``date=.../topic=...``), a row group at a time; a file closes when it reaches
``max_rows_per_file`` rows or when its bundle ends. Nothing is grouped first, and the rows
buffered across a bundle's open files are capped (``MAX_BUFFERED_BYTES``; past it the largest
buffer is written as a smaller row group), so memory does not grow with the corpus even when
a whole run is one bundle, as on the DirectRunner (a GroupByKey would hold every article of a
partition until the whole input had been read).

Per-bundle files can be small (a distributed runner makes many small bundles), so a second
step groups the file list (not the articles) by partition and merges the files below
``min_rows_per_file`` into files of even size, streaming a row group at a time.

Files are written under a hidden ``.inprogress`` name and renamed when complete. Each file is
reported as a `WrittenFile` output; a bundle that fails and is retried leaves files no
committed output names, and the publish step ignores them (as Beam's own file sinks do).
Beam's ``fileio.WriteToFiles`` is not used: with sub-directory destinations its files stay
in ``.temp`` (apache/beam#21313).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import posixpath
import sys
import uuid
from typing import Any, Iterable, Iterator

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import faults
from schemas.article import ARTICLE_SCHEMA, Article, to_table

ROW_GROUP_ROWS = 1000
#: Open partition files per bundle; past this the fullest is closed (a later row reopens a new file).
MAX_OPEN_FILES = 64
#: Bytes held in not-yet-written rows across a bundle's open files; past this the largest buffer
#: is flushed early. Without it a bundle holds up to ``ROW_GROUP_ROWS`` articles per partition
#: (the DirectRunner runs the whole corpus as one bundle: 18 partitions held ~18,000 articles).
MAX_BUFFERED_BYTES = 16 << 20


def buffered_size(article: Article) -> int:
    """Rough bytes an article holds until written: its texts as Python stores them (up to 4 bytes
    a character for non-Latin text) plus a fixed overhead for the other fields."""
    removed = sum(sys.getsizeof(r.get("text") or "") for r in article.removed)
    return 2048 + sys.getsizeof(article.body or "") + sys.getsizeof(article.text or "") + removed


@dataclasses.dataclass(frozen=True)
class WrittenFile:
    partition: str
    path: str
    rows: int


def part_name(run_id: str, partition: str) -> str:
    """Unique per attempt: a retried bundle writes new names, and only committed ones publish."""
    return f"part-{run_id}-{hashlib.sha1(partition.encode()).hexdigest()[:8]}-{uuid.uuid4().hex[:12]}.parquet"


class PartitionFile:
    """One Parquet file being written: rows buffered up to a row group, then flushed."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, partition: str, run_id: str, compression: str):
        directory = posixpath.join(root, partition)
        fs.makedirs(directory, exist_ok=True)
        self.fs, self.partition, self.run_id = fs, partition, run_id
        self.final = posixpath.join(directory, part_name(run_id, partition))
        self.temporary = posixpath.join(directory, "." + posixpath.basename(self.final) + ".inprogress")
        self._out = fs.open(self.temporary, "wb")
        self._writer = pq.ParquetWriter(self._out, ARTICLE_SCHEMA, compression=compression)
        self._buffer: list[Article] = []
        self.buffered_bytes = 0
        self.rows = 0
        self._processed_at = dt.datetime.now(dt.timezone.utc)

    def add(self, article: Article) -> None:
        self._buffer.append(article)
        self.buffered_bytes += buffered_size(article)
        self.rows += 1
        if len(self._buffer) >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._writer.write_table(to_table(self._buffer, self.run_id, self._processed_at), row_group_size=ROW_GROUP_ROWS)
            self._buffer = []
            self.buffered_bytes = 0

    def close(self) -> WrittenFile:
        self.flush()
        self._writer.close()
        self._out.close()
        faults.reached("write-before-rename")
        self.fs.mv(self.temporary, self.final)
        faults.reached("write")
        return WrittenFile(self.partition, self.fs.unstrip_protocol(self.final), self.rows)


def write_articles(
    fs: fsspec.AbstractFileSystem,
    root: str,
    articles: Iterable[Article],
    run_id: str,
    max_rows_per_file: int,
    compression: str = "zstd",
) -> Iterator[WrittenFile]:
    """Stream articles into partition files (a pure-Python version of what the DoFn does)."""
    writer = _Writers(fs, root, run_id, max_rows_per_file, compression)
    for article in articles:
        yield from writer.add(article)
    yield from writer.close_all()


def merge_files(
    fs: fsspec.AbstractFileSystem,
    sources: list[str],
    directory: str,
    partition: str,
    run_id: str,
    max_rows_per_file: int,
    compression: str = "zstd",
) -> list[WrittenFile]:
    """Copy the rows of ``sources`` (paths on ``fs``) into as few files as ``max_rows_per_file``
    allows, of even size, in ``directory``; a row group at a time, so memory stays bounded.
    The sources are left in place (the caller decides when they may go)."""
    counts = []
    for path in sources:
        with fs.open(path, "rb") as f:
            counts.append(pq.ParquetFile(f).metadata.num_rows)
    total = sum(counts)
    if total == 0:
        return []
    per_file = math.ceil(total / math.ceil(total / max_rows_per_file))
    out: list[WrittenFile] = []
    current: _MergedFile | None = None
    for path in sources:
        with fs.open(path, "rb") as f:
            parquet = pq.ParquetFile(f)
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group)
                while table.num_rows:
                    if current is None:
                        current = _MergedFile(fs, directory, partition, run_id, compression)
                    take = min(table.num_rows, per_file - current.rows)
                    current.write(table.slice(0, take))
                    table = table.slice(take)
                    if current.rows >= per_file:
                        out.append(current.close())
                        current = None
    if current is not None:
        out.append(current.close())
    return out


class _MergedFile:
    def __init__(self, fs, directory: str, partition: str, run_id: str, compression: str):
        fs.makedirs(directory, exist_ok=True)
        self.fs, self.partition = fs, partition
        self.final = posixpath.join(directory, part_name(run_id, partition))
        self.temporary = posixpath.join(directory, "." + posixpath.basename(self.final) + ".inprogress")
        self._out = fs.open(self.temporary, "wb")
        self._writer = pq.ParquetWriter(self._out, ARTICLE_SCHEMA, compression=compression)
        self.rows = 0

    def write(self, table) -> None:
        self._writer.write_table(table.cast(ARTICLE_SCHEMA), row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows

    def close(self) -> WrittenFile:
        self._writer.close()
        self._out.close()
        self.fs.mv(self.temporary, self.final)
        return WrittenFile(self.partition, self.fs.unstrip_protocol(self.final), self.rows)


class _Writers:
    def __init__(self, fs, root: str, run_id: str, max_rows_per_file: int, compression: str):
        self._args = (fs, root, run_id, max_rows_per_file, compression)
        self._open: dict[str, PartitionFile] = {}

    def add(self, article: Article) -> Iterator[WrittenFile]:
        fs, root, run_id, max_rows, compression = self._args
        partition = article.partition
        part = self._open.get(partition)
        if part is None:
            if len(self._open) >= MAX_OPEN_FILES:
                fullest = max(self._open.values(), key=lambda p: p.rows)
                yield self._open.pop(fullest.partition).close()
            part = self._open[partition] = PartitionFile(fs, root, partition, run_id, compression)
        part.add(article)
        if part.rows >= max_rows:
            yield self._open.pop(partition).close()
        elif sum(p.buffered_bytes for p in self._open.values()) > MAX_BUFFERED_BYTES:
            max(self._open.values(), key=lambda p: p.buffered_bytes).flush()

    def close_all(self) -> Iterator[WrittenFile]:
        while self._open:
            yield self._open.popitem()[1].close()


class _WriteBundleFn(beam.DoFn):
    def __init__(self, output: str, run_id: str, max_rows_per_file: int, compression: str):
        self._output = output
        self._run_id = run_id
        self._max_rows = max_rows_per_file
        self._compression = compression

    def setup(self) -> None:
        self._fs, self._root = fsspec.core.url_to_fs(self._output)

    def start_bundle(self) -> None:
        self._writers = _Writers(self._fs, self._root, self._run_id, self._max_rows, self._compression)

    def process(self, article: Article) -> Iterator[WrittenFile]:
        yield from self._writers.add(article)

    def finish_bundle(self) -> Iterator[Any]:
        for written in self._writers.close_all():
            yield WindowedValue(written, GlobalWindow().max_timestamp(), [GlobalWindow()])


class _CompactPartitionFn(beam.DoFn):
    """(partition, its files) -> the same rows, the files below ``min_rows`` merged."""

    def __init__(self, output: str, run_id: str, min_rows: int, max_rows: int, compression: str):
        self._output, self._run_id = output, run_id
        self._min_rows, self._max_rows, self._compression = min_rows, max_rows, compression

    def setup(self) -> None:
        self._fs, self._root = fsspec.core.url_to_fs(self._output)

    def process(self, element: tuple[str, Iterable[WrittenFile]]) -> Iterator[WrittenFile]:
        partition, files = element
        files = sorted(files, key=lambda w: w.path)
        small = [w for w in files if w.rows < self._min_rows]
        if len(small) < 2:
            yield from files
            return
        yield from (w for w in files if w.rows >= self._min_rows)
        # The small files stay in staging, unreported, and are never published.
        yield from merge_files(
            self._fs,
            [self._fs._strip_protocol(w.path) for w in small],
            posixpath.join(self._root, partition),
            partition,
            self._run_id,
            self._max_rows,
            self._compression,
        )


class WriteParquet(beam.PTransform):
    """Enriched articles -> Parquet files under ``output``; emits one `WrittenFile` per file.

    ``min_rows_per_file`` > 1 adds the merge of small files (a GroupByKey of file names only).
    """

    def __init__(
        self,
        output: str,
        run_id: str,
        max_rows_per_file: int = 100_000,
        compression: str = "zstd",
        min_rows_per_file: int = 1,
    ):
        super().__init__()
        self._args = (output, run_id, max_rows_per_file, compression)
        self._min_rows = min_rows_per_file

    def expand(self, articles):
        files = articles | "WriteFiles" >> beam.ParDo(_WriteBundleFn(*self._args))
        if self._min_rows <= 1:
            return files
        output, run_id, max_rows, compression = self._args
        return (
            files
            | "ByPartition" >> beam.Map(lambda w: (w.partition, w))
            | "FilesOfPartition" >> beam.GroupByKey()
            | "MergeSmallFiles" >> beam.ParDo(_CompactPartitionFn(output, run_id, self._min_rows, max_rows, compression))
        )
