"""Write stage: Hive-partitioned Parquet through fsspec, one file per partition per batch.

Rows are grouped by their partition directory (``date=.../topic=...``) and each group is
streamed into Parquet files of at most ``max_rows_per_file`` rows, a row group at a time.
Beam's ``fileio.WriteToFiles`` is not used: with sub-directory destinations its files stay
in ``.temp`` (apache/beam#21313). Each file is written under a hidden name and renamed when
complete, so a reader listing ``*.parquet`` never sees a half-written file.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import posixpath
from typing import Iterable, Iterator

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq

from pipeline import faults
from schemas.article import ARTICLE_SCHEMA, Article, to_table

ROW_GROUP_ROWS = 1000


@dataclasses.dataclass(frozen=True)
class WrittenFile:
    partition: str
    path: str
    rows: int


def part_name(run_id: str, partition: str, index: int) -> str:
    """Deterministic: a retried bundle or a re-published run rewrites the same names, never adds."""
    return f"part-{run_id}-{hashlib.sha1(partition.encode()).hexdigest()[:8]}-{index:05d}.parquet"


def write_partition(
    fs: fsspec.AbstractFileSystem,
    root: str,
    partition: str,
    articles: Iterable[Article],
    run_id: str,
    max_rows_per_file: int,
    compression: str = "zstd",
) -> Iterator[WrittenFile]:
    """Stream one partition's articles into Parquet files; yields each file once renamed."""
    directory = posixpath.join(root, partition)
    fs.makedirs(directory, exist_ok=True)
    processed_at = dt.datetime.now(dt.timezone.utc)
    rows = iter(articles)
    for index in itertools.count():
        first = list(itertools.islice(rows, min(ROW_GROUP_ROWS, max_rows_per_file)))
        if not first:
            return
        final = posixpath.join(directory, part_name(run_id, partition, index))
        temporary = posixpath.join(directory, "." + posixpath.basename(final) + ".inprogress")
        written = 0
        with fs.open(temporary, "wb") as out, pq.ParquetWriter(out, ARTICLE_SCHEMA, compression=compression) as writer:
            chunk = first
            while chunk:
                writer.write_table(to_table(chunk, run_id, processed_at), row_group_size=ROW_GROUP_ROWS)
                written += len(chunk)
                room = max_rows_per_file - written
                chunk = list(itertools.islice(rows, min(ROW_GROUP_ROWS, room))) if room > 0 else []
        faults.reached("write-before-rename")
        fs.mv(temporary, final)
        faults.reached("write")
        yield WrittenFile(partition, fs.unstrip_protocol(final), written)


class _WritePartitionFn(beam.DoFn):
    def __init__(self, output: str, run_id: str, max_rows_per_file: int, compression: str):
        self._output = output
        self._run_id = run_id
        self._max_rows = max_rows_per_file
        self._compression = compression

    def setup(self) -> None:
        self._fs, self._root = fsspec.core.url_to_fs(self._output)

    def process(self, keyed: tuple[str, Iterable[Article]]) -> Iterator[WrittenFile]:
        partition, articles = keyed
        yield from write_partition(
            self._fs, self._root, partition, articles, self._run_id, self._max_rows, self._compression
        )


class WriteParquet(beam.PTransform):
    """Enriched articles -> Parquet files under ``output``; emits one `WrittenFile` per file."""

    def __init__(self, output: str, run_id: str, max_rows_per_file: int = 100_000, compression: str = "zstd"):
        super().__init__()
        self._args = (output, run_id, max_rows_per_file, compression)

    def expand(self, articles):
        return (
            articles
            | "ByPartition" >> beam.WithKeys(lambda a: a.partition)
            | "Group" >> beam.GroupByKey()
            | "WriteFiles" >> beam.ParDo(_WritePartitionFn(*self._args))
        )
