"""Writing: Hive layout, file rolling, schema and version metadata, no partial files visible."""
from __future__ import annotations

import datetime as dt
import uuid

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that, equal_to

from schemas.article import ARTICLE_SCHEMA, NULL_PARTITION, SCHEMA_VERSION, SCHEMA_VERSION_KEY, Article, read_dataset
from tests.conftest import test_pipeline
from transforms.parquet_files import merge_files
from transforms.write import MAX_OPEN_FILES, WriteParquet, write_articles


def _article(i: int, day: dt.date | None, topic: str = "sport") -> Article:
    return Article(
        source_path=f"in/{i}.txt",
        source_bytes=10,
        content_sha256=f"{i:064d}",
        encoding="utf-8",
        body=f"Body of article {i}.",
        published_date=day,
        date_source="header" if day else None,
        removed=({"rule": "title", "text": f"Title {i}"},),
        entities=({"text": "Xi", "canonical": "Xi Jinping", "label": "PERSON", "start_char": 0, "end_char": 2},),
        entity_summary=({"name": "Xi Jinping", "label": "PERSON", "mentions": 1},),
        topic=topic,
        topic_score=0.5,
    )


def test_partition_names_are_hive_style():
    assert _article(1, dt.date(2025, 9, 2)).partition == "date=2025-09-02/topic=sport"
    assert _article(1, None, "other").partition == f"date={NULL_PARTITION}/topic=other"


def test_write_articles_rolls_files_and_leaves_no_partial_file(tmp_path):
    fs = fsspec.filesystem("file")
    articles = [_article(i, dt.date(2025, 9, 2)) for i in range(5)] + [_article(9, None, "other")]
    written = list(write_articles(fs, str(tmp_path), articles, "run1", max_rows_per_file=2))
    assert sorted((w.partition, w.rows) for w in written) == [
        ("date=2025-09-02/topic=sport", 1),
        ("date=2025-09-02/topic=sport", 2),
        ("date=2025-09-02/topic=sport", 2),
        (f"date={NULL_PARTITION}/topic=other", 1),
    ]
    names = sorted(p.name for p in (tmp_path / "date=2025-09-02" / "topic=sport").iterdir())
    assert len(names) == 3 and all(n.startswith("part-run1-") and n.endswith(".parquet") for n in names)
    parquet = pq.ParquetFile(written[0].path.replace("file://", ""))
    assert parquet.schema_arrow.equals(ARTICLE_SCHEMA, check_metadata=False)
    assert parquet.schema_arrow.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    assert "date" not in parquet.schema_arrow.names and "topic" not in parquet.schema_arrow.names


def test_write_transform_to_memory_filesystem_reads_back_as_one_table():
    root = f"memory:///write-test-{uuid.uuid4().hex}"
    articles = [_article(1, dt.date(2025, 9, 2)), _article(2, dt.date(2025, 9, 2)), _article(3, None, "other")]
    with test_pipeline() as p:
        written = p | beam.Create(articles) | WriteParquet(root, "run1")
        assert_that(
            written | beam.Map(lambda w: (w.partition, w.rows)),
            equal_to([("date=2025-09-02/topic=sport", 2), (f"date={NULL_PARTITION}/topic=other", 1)]),
        )
    fs, path = fsspec.core.url_to_fs(root)
    table = read_dataset(path, filesystem=fs).to_table().sort_by("source_path")
    assert table.column("source_path").to_pylist() == ["in/1.txt", "in/2.txt", "in/3.txt"]
    assert table.column("date").to_pylist() == [dt.date(2025, 9, 2), dt.date(2025, 9, 2), None]
    assert table.column("topic").to_pylist() == ["sport", "sport", "other"]
    assert table.column("run_id").to_pylist() == ["run1"] * 3
    assert table.column("entities").to_pylist()[0] == [{"text": "Xi", "canonical": "Xi Jinping", "label": "PERSON", "start_char": 0, "end_char": 2}]
    assert table.column("entity_summary").to_pylist()[0] == [{"name": "Xi Jinping", "label": "PERSON", "mentions": 1}]
    assert not fs.glob(path + "/**/.*inprogress")


def test_open_files_are_bounded_however_many_partitions(tmp_path):
    fs = fsspec.filesystem("file")
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(MAX_OPEN_FILES + 10)]
    written = list(write_articles(fs, str(tmp_path), [_article(i, d) for i, d in enumerate(days)], "run1", 1000))
    assert len(written) == len(days) and sum(w.rows for w in written) == len(days)
    assert len(list(tmp_path.glob("date=*/topic=sport/*.parquet"))) == len(days)


def test_merge_files_splits_rows_evenly_and_keeps_every_row(tmp_path):
    fs = fsspec.filesystem("file")
    sport = "date=2025-09-02/topic=sport"
    small = list(write_articles(fs, str(tmp_path / "in"), [_article(i, dt.date(2025, 9, 2)) for i in range(5)], "r", 1))
    merged = merge_files(fs, [w.path for w in small], str(tmp_path / "out"), sport, "r", max_rows_per_file=4)
    assert sorted(w.rows for w in merged) == [2, 3]  # not 4 + 1
    bodies = sorted(b for w in merged for b in pq.read_table(w.path.replace("file://", "")).column("body").to_pylist())
    assert bodies == [f"Body of article {i}." for i in range(5)]
    assert pq.read_schema(merged[0].path.replace("file://", "")).equals(ARTICLE_SCHEMA, check_metadata=False)


def test_buffered_rows_are_bounded_across_open_partitions(tmp_path, monkeypatch):
    """One bundle over the whole corpus (the DirectRunner) must not hold a row group per partition."""
    from transforms import write

    monkeypatch.setattr(write, "MAX_BUFFERED_BYTES", 20 * write.buffered_size(_article(0, None)))
    fs = fsspec.filesystem("file")
    writers = write._Writers(fs, str(tmp_path), "run1", 1000, "zstd")
    articles = [_article(i, dt.date(2025, 9, 1 + i % 5)) for i in range(200)]
    for article in articles:
        assert not list(writers.add(article))
        assert sum(p.buffered_bytes for p in writers._open.values()) <= write.MAX_BUFFERED_BYTES
    written = list(writers.close_all())
    assert len(written) == 5 and sum(w.rows for w in written) == 200
    table = pq.read_table(written[0].path.replace("file://", ""))
    assert table.num_rows == 40 and pq.ParquetFile(written[0].path.replace("file://", "")).num_row_groups > 1


def test_dataset_without_any_date_reads_with_the_readme_partitioning(tmp_path):
    """Every row under date=__HIVE_DEFAULT_PARTITION__: pyarrow cannot guess the date type from
    the folder names, so the README gives it the types; DuckDB reads it as NULL dates."""
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds

    fs = fsspec.filesystem("file")
    list(write_articles(fs, str(tmp_path), [_article(1, None, "other"), _article(2, None, "sport")], "run1", 100))
    partitioning = ds.partitioning(pa.schema([("date", pa.date32()), ("topic", pa.string())]), flavor="hive")
    table = ds.dataset(str(tmp_path), format="parquet", partitioning=partitioning).to_table().sort_by("source_path")
    assert table.column("date").to_pylist() == [None, None]
    assert table.column("topic").to_pylist() == ["other", "sport"]
    rows = duckdb.sql(
        f"SELECT source_path, date, topic FROM read_parquet('{tmp_path}/*/*/*.parquet', hive_partitioning = true) ORDER BY 1"
    ).fetchall()
    assert rows == [("in/1.txt", None, "other"), ("in/2.txt", None, "sport")]
