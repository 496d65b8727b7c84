"""Write stage: Hive-partitioned Parquet through fsspec, one file per partition per bundle.

Articles stream into open Parquet writers, one per partition directory
(``date=.../topic=...``), a row group at a time; a file closes when it reaches
``max_rows_per_file`` rows or when its bundle ends. Nothing is grouped first, and the rows
buffered across a bundle's open files are capped (``MAX_BUFFERED_BYTES``; past it the largest
buffer is written as a smaller row group), so memory does not grow with the corpus even when
a whole run is one bundle, as on the DirectRunner (a GroupByKey would hold every article of a
partition until the whole input had been read).

Per-bundle files can be small (a distributed runner makes many small bundles): the publish step
merges the files below ``--min_rows_per_file`` with the partition's earlier small files, a row
group at a time (`transforms.parquet_files.merge_files`).

Writers are kept per window, and each file is reported in the window of its rows (as Beam's
``fileio.WriteToFiles`` does): a batch run is the one-global-window case. Files are written
under a hidden ``.inprogress`` name and renamed when complete. Each file is
reported as a `WrittenFile` output; a bundle that fails and is retried leaves files no
committed output names, and the publish step ignores them (as Beam's own file sinks do).
Beam's ``fileio.WriteToFiles`` is not used: with sub-directory destinations its files stay
in ``.temp`` (apache/beam#21313).
"""
from __future__ import annotations

import datetime as dt
import posixpath
import sys
from typing import Any, Iterable, Iterator

import apache_beam as beam
import fsspec
from apache_beam.utils.windowed_value import WindowedValue

from schemas.article import Article, to_table
from transforms import faults, progress
from transforms.parquet_files import ROW_GROUP_ROWS, ParquetPart, WrittenFile

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


class PartitionFile:
    """One Parquet file being written: articles buffered up to a row group, then flushed."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, partition: str, run_id: str, compression: str):
        self.partition, self.run_id = partition, run_id
        self._part = ParquetPart(fs, posixpath.join(root, partition), partition, run_id, compression)
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
            self._part.write(to_table(self._buffer, self.run_id, self._processed_at))
            self._buffer = []
            self.buffered_bytes = 0

    def close(self) -> WrittenFile:
        self.flush()
        self._part.finish()
        faults.reached("write-before-rename")
        written = self._part.rename()
        faults.reached("write")
        return written


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
        self._progress = progress.counter(self._output)

    def start_bundle(self) -> None:
        self._writers: dict[Any, _Writers] = {}  # per window: a window's files are its own

    def process(self, article: Article, window=beam.DoFn.WindowParam) -> Iterator[WrittenFile]:
        writers = self._writers.get(window)
        if writers is None:
            writers = self._writers[window] = _Writers(self._fs, self._root, self._run_id, self._max_rows, self._compression)
        yield from writers.add(article)
        self._progress.add("written")

    def finish_bundle(self) -> Iterator[Any]:
        self._progress.flush()
        for window, writers in self._writers.items():
            for written in writers.close_all():
                yield WindowedValue(written, window.max_timestamp(), [window])


class WriteParquet(beam.PTransform):
    """Enriched articles -> Parquet files under ``output``; emits one `WrittenFile` per file.

    Small files (a distributed runner makes many small bundles) are merged at publish, with the
    partition's earlier small files (see `pipeline/publish.py`), not here.
    """

    def __init__(self, output: str, run_id: str, max_rows_per_file: int = 100_000, compression: str = "zstd"):
        super().__init__()
        self._args = (output, run_id, max_rows_per_file, compression)

    def expand(self, articles):
        return articles | "WriteFiles" >> beam.ParDo(_WriteBundleFn(*self._args))
