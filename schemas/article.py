"""The one record that flows through every stage, and the Parquet schema it is written with.

Each stage fills in more fields of the same `Article` (datatrove's `Document` idea), so a
stage never has to know which stage ran before it. `ARTICLE_SCHEMA` is the contract with the
warehouse: every Parquet file the pipeline writes has exactly these columns, in this order.
The partition columns `date` and `topic` live only in the directory names.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.dataset as ds

SCHEMA_VERSION = "2.1"
SCHEMA_VERSION_KEY = b"news_ingest.schema_version"

#: Hive's name for the partition of rows whose partition value is null; pyarrow, DuckDB and
#: Spark all read it back as NULL.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
PARTITION_COLUMNS = ("date", "topic")


#: A local file named as a ``file://`` URL: the same input as its plain path.
LOCAL_URL_PREFIX = "file://"


def source_id(path: str, line: int | None) -> str:
    """An input's id: its path, plus ``#L<n>`` for a JSON Lines record (line None or 0: a whole
    file); see `canonical_source_id`."""
    path = canonical_source_id(path)
    return path if not line else f"{path}#L{line}"


def canonical_source_id(sid: str) -> str:
    """A local file is one input however it was named: ``file:///in/a.txt`` is ``/in/a.txt``
    (rows, index entries and signatures written before local URLs were read as plain paths say
    ``file://``)."""
    return sid[len(LOCAL_URL_PREFIX) :] if sid.startswith(LOCAL_URL_PREFIX + "/") else sid


def split_source_id(sid: str) -> tuple[str, int]:
    """(path, line) of a source id; line 0 for a whole file."""
    path, mark, line = sid.rpartition("#L")
    return (path, int(line)) if mark and line.isdigit() else (sid, 0)


def article_id(source: str, content_sha256: str) -> str:
    """Stable id: the same bytes at the same place always get the same id."""
    return hashlib.sha256(f"{source}\n{content_sha256}".encode()).hexdigest()[:32]


#: Values of ``date_source``: the HTML page's metadata (meta tags, JSON-LD, <time>), a JSON Lines
#: field, a rule of the rule pack that lifts a date, a date line of its own in the text, a byline
#: with a date, a dateline (a place and the date), the file's path. In the order they are tried.
DATE_SOURCES = ("html_meta", "feed", "rule", "header", "byline", "dateline", "path")


@dataclasses.dataclass(frozen=True)
class Article:
    source_path: str
    source_bytes: int
    content_sha256: str
    #: 1-based line of a JSON Lines file; None for one-article files.
    source_line: int | None = None
    input_format: str = "text"
    encoding: str | None = None
    text_repaired: bool = False
    #: Decoded input text; dropped (set to None) once the body has been cleaned.
    text: str | None = None
    #: A date string from structured metadata (HTML meta tags, a JSONL field), not yet parsed.
    meta_date: str | None = None
    url: str | None = None
    language: str | None = None
    body: str | None = None
    title: str | None = None
    author: str | None = None
    credit: str | None = None
    dateline: str | None = None
    published_date: dt.date | None = None
    #: Where ``published_date`` came from: one of `DATE_SOURCES`, or None with no date.
    date_source: str | None = None
    removed: tuple[dict[str, str], ...] = ()
    entities: tuple[dict[str, Any], ...] = ()
    entity_summary: tuple[dict[str, Any], ...] = ()
    ner_skipped_reason: str | None = None
    topic: str | None = None
    topic_score: float | None = None
    topic_scores: tuple[tuple[str, float], ...] = ()
    #: SHA-256 of the normalised cleaned body (`transforms.near_duplicates.body_sha256`).
    body_sha256: str | None = None
    #: The article this one repeats (exact or near duplicate), and how similar they are.
    duplicate_of: str | None = None
    similarity: float | None = None

    @property
    def source_id(self) -> str:
        """Where the record came from: the path, plus ``#L<n>`` for a JSON Lines record."""
        return source_id(self.source_path, self.source_line)

    @property
    def article_id(self) -> str:
        return article_id(self.source_id, self.content_sha256)

    @property
    def partition(self) -> str:
        """Hive partition directory, e.g. ``date=2025-09-02/topic=politics``."""
        date = self.published_date.isoformat() if self.published_date else NULL_PARTITION
        topic = self.topic or NULL_PARTITION
        return f"date={date}/topic={topic}"


_REMOVED = pa.struct([("rule", pa.string()), ("text", pa.string())])
_ENTITY = pa.struct(
    [
        ("text", pa.string()),
        ("canonical", pa.string()),
        ("label", pa.string()),
        ("start_char", pa.int32()),
        ("end_char", pa.int32()),
    ]
)

_ENTITY_SUMMARY = pa.struct([("name", pa.string()), ("label", pa.string()), ("mentions", pa.int32())])

ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_bytes", pa.int64(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("source_line", pa.int32()),
        pa.field("input_format", pa.string(), nullable=False),
        pa.field("encoding", pa.string()),
        pa.field("text_repaired", pa.bool_(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("language", pa.string()),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("credit", pa.string()),
        pa.field("dateline", pa.string()),
        pa.field("published_date", pa.date32()),
        pa.field("date_source", pa.string()),
        pa.field("body", pa.string(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("removed", pa.list_(_REMOVED)),
        pa.field("entities", pa.list_(_ENTITY)),
        pa.field("entity_summary", pa.list_(_ENTITY_SUMMARY)),
        pa.field("ner_skipped_reason", pa.string()),
        pa.field("topic_score", pa.float64()),
        pa.field("topic_scores", pa.map_(pa.string(), pa.float64())),
        pa.field("body_sha256", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("processed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)

#: How readers should interpret the directory names (``date`` as a real date type).
PARTITIONING = ds.partitioning(
    pa.schema([("date", pa.date32()), ("topic", pa.string())]),
    flavor="hive",
)


def to_row(article: Article, run_id: str, processed_at: dt.datetime) -> dict[str, Any]:
    body = article.body or ""
    return {
        "article_id": article.article_id,
        "source_path": article.source_path,
        "source_bytes": article.source_bytes,
        "content_sha256": article.content_sha256,
        "source_line": article.source_line,
        "input_format": article.input_format,
        "encoding": article.encoding,
        "text_repaired": article.text_repaired,
        "url": article.url,
        "language": article.language,
        "title": article.title,
        "author": article.author,
        "credit": article.credit,
        "dateline": article.dateline,
        "published_date": article.published_date,
        "date_source": article.date_source,
        "body": body,
        "word_count": len(body.split()),
        "removed": list(article.removed),
        "entities": list(article.entities),
        "entity_summary": list(article.entity_summary),
        "ner_skipped_reason": article.ner_skipped_reason,
        "topic_score": article.topic_score,
        "topic_scores": list(article.topic_scores),
        "body_sha256": article.body_sha256,
        "duplicate_of": article.duplicate_of,
        "similarity": article.similarity,
        "run_id": run_id,
        "processed_at": processed_at,
    }


def to_table(articles: Iterable[Article], run_id: str, processed_at: dt.datetime) -> pa.Table:
    rows = [to_row(a, run_id, processed_at) for a in articles]
    return pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)


#: Names readers skip (pyarrow's default, Spark, Hive): a file set aside as ``_name`` or ``.name``
#: is no part of the data, for the pipeline's own tools either.
HIDDEN_PREFIXES = ("_", ".")


def is_data_file_name(name: str) -> bool:
    """A Parquet file name readers take as data (not set aside with a hidden prefix)."""
    return name.endswith(".parquet") and not name.startswith(HIDDEN_PREFIXES)


def read_dataset(path: str, filesystem: Any = None) -> ds.Dataset:
    """Open an output directory as one table, partition columns included. The schema is this
    version's, so the columns a newer version added read as null in files written before it
    (pyarrow would otherwise take the schema of the first file it finds)."""
    return ds.dataset(
        path,
        format="parquet",
        schema=pa.unify_schemas([ARTICLE_SCHEMA, PARTITIONING.schema]),
        partitioning=PARTITIONING,
        filesystem=filesystem,
        exclude_invalid_files=False,
        ignore_prefixes=list(HIDDEN_PREFIXES),
    )
