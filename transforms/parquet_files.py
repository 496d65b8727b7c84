"""Parquet files of the dataset: names, writing under a temporary name, merging small files.

Used by the writer stage (`transforms/write.py`) and by the driver's publish step
(`pipeline/publish.py`), so both name, write and merge files the same way.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import posixpath
import uuid
from typing import Any, Iterator

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.article import ARTICLE_SCHEMA
from transforms.errors import UsageError

#: Rows per row group: what a reader or a merge holds of a file at a time.
ROW_GROUP_ROWS = 1000


#: What to do about a data file that cannot be read.
SET_ASIDE = "set it aside (a name starting with '_' hides it from readers and from the pipeline) or reprocess with --mode rebuild"


@contextlib.contextmanager
def readable(path: str, remedy: str = SET_ASIDE) -> Iterator[None]:
    """A Parquet file that cannot be read (empty, truncated, not Parquet) as a one-line
    `UsageError` naming it and what to do, not pyarrow's traceback without its name."""
    try:
        yield
    except pa.ArrowInvalid as exc:
        raise UsageError(f"{path} is not a readable Parquet file ({exc}): {remedy}") from exc


@dataclasses.dataclass(frozen=True)
class WrittenFile:
    partition: str
    path: str
    rows: int


def part_name(run_id: str, partition: str) -> str:
    """Unique per attempt: a retried bundle writes new names, and only committed ones publish."""
    return f"part-{run_id}-{hashlib.sha1(partition.encode()).hexdigest()[:8]}-{uuid.uuid4().hex[:12]}.parquet"


class PendingFile:
    """A file written under a hidden temporary name beside its final one and renamed when
    complete, so nobody listing the folder sees it half written. As a context manager it yields
    the binary handle and renames on success (removes the temporary file on failure)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, final: str, suffix: str = ".inprogress"):
        directory = posixpath.dirname(final)
        fs.makedirs(directory, exist_ok=True)
        self.fs, self.final = fs, final
        self.temporary = posixpath.join(directory, "." + posixpath.basename(final) + suffix)
        self.out = fs.open(self.temporary, "wb")

    def finish(self) -> None:
        self.out.close()

    def rename(self) -> None:
        self.fs.mv(self.temporary, self.final)

    def __enter__(self) -> Any:
        return self.out

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish()
        if exc_type is None:
            self.rename()
        elif self.fs.exists(self.temporary):
            self.fs.rm(self.temporary)


class ParquetPart:
    """One Parquet file of a partition, written a row group at a time under a temporary name."""

    def __init__(self, fs: fsspec.AbstractFileSystem, directory: str, partition: str, run_id: str, compression: str):
        self.fs, self.partition = fs, partition
        self._file = PendingFile(fs, posixpath.join(directory, part_name(run_id, partition)))
        self._writer = pq.ParquetWriter(self._file.out, ARTICLE_SCHEMA, compression=compression)
        self.rows = 0

    @property
    def final(self) -> str:
        return self._file.final

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.cast(ARTICLE_SCHEMA), row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows

    def finish(self) -> None:
        """Complete the file under its temporary name."""
        self._writer.close()
        self._file.finish()

    def rename(self) -> WrittenFile:
        self._file.rename()
        return WrittenFile(self.partition, self.fs.unstrip_protocol(self.final), self.rows)

    def close(self) -> WrittenFile:
        self.finish()
        return self.rename()


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
        with fs.open(path, "rb") as f, readable(path):
            counts.append(pq.ParquetFile(f).metadata.num_rows)
    total = sum(counts)
    if total == 0:
        return []
    per_file = math.ceil(total / math.ceil(total / max_rows_per_file))
    out: list[WrittenFile] = []
    current: ParquetPart | None = None
    for path in sources:
        with fs.open(path, "rb") as f:
            parquet = pq.ParquetFile(f)
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group)
                while table.num_rows:
                    if current is None:
                        current = ParquetPart(fs, directory, partition, run_id, compression)
                    take = min(table.num_rows, per_file - current.rows)
                    current.write(table.slice(0, take))
                    table = table.slice(take)
                    if current.rows >= per_file:
                        out.append(current.close())
                        current = None
    if current is not None:
        out.append(current.close())
    return out
