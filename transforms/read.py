"""Read stage: each matched file (`transforms/match.py`) into `Article`s, through fsspec.

Every input ends up as an article, a rejection with its reason, or a `SkippedInput` (committed
before, unchanged); one `FileRead` per file lets the summary check that every record is
accounted for. The identity of an input's content (`input_digest`, `jsonl_lines`) is computed
here, and the dry run (`plan_records`) decides with the same functions.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import itertools
import json
import lzma
import zlib
from typing import Any, Iterator, Mapping

import apache_beam as beam
import fsspec
from apache_beam.utils import shared

from schemas.article import Article, source_id, split_source_id
from transforms import errors, faults
from transforms.errors import ArticleRejected
from transforms.failures import REJECTED, Rejection, rejection, run_guarded
from transforms.formats import (
    COMPRESSIONS,
    JsonlFields,
    decode_bytes,
    detect_format,
    html_record,
    jsonl_record,
    repair_text,
)

FILE_READS = "file_reads"
SKIPPED = "skipped"
#: Why a matched input is skipped rather than read (`SkippedInput.reason`).
UNCHANGED = "unchanged"  # written by a committed run, same content, same settings
STALE = "stale"  # written by a committed run with other settings; kept as it is
REJECTED_BEFORE = "rejected_before"  # rejected by a committed run, same content, same settings
HIDDEN_OR_SYSTEM = "hidden_or_system_file"  # .DS_Store, ._*, Thumbs.db, dot-files: not an input


@dataclasses.dataclass(frozen=True)
class SkippedInput:
    """A matched input that is not read, and why (one of the reasons above)."""

    source_id: str
    reason: str


#: source id -> (content sha256, skip reason): the committed inputs a run skips when their
#: content is unchanged (built by the driver from the committed-input index).
Known = Mapping[str, "tuple[str, str]"]


def input_digest(url: str) -> str:
    """A file's content identity, as the ledger records it: the sha256 of its decompressed
    bytes, or of its raw bytes when it cannot be decompressed. Streams: any size, little memory."""
    name = url.rsplit("/", 1)[-1].lower()
    compression = next((c for suffix, c in COMPRESSIONS.items() if name.endswith(suffix)), None)
    if compression:
        try:
            return _sha256_of(url, compression)
        except Exception:  # noqa: BLE001 - undecompressable: the raw bytes are its identity
            pass
    return _sha256_of(url, None)


def _sha256_of(url: str, compression: str | None) -> str:
    digest = hashlib.sha256()
    with fsspec.open(url, "rb", compression=compression) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def jsonl_lines(f, max_bytes: int) -> Iterator[tuple[int, bytes | None, str]]:
    """(1-based line number, the line, its sha256) for each non-blank line of a JSON Lines file;
    the line is None when longer than ``max_bytes`` (then never held whole)."""
    for number in itertools.count(1):
        line = f.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            digest = hashlib.sha256(line)
            while line and not line.endswith(b"\n"):  # the rest of the oversized line
                line = f.readline(1 << 20)
                digest.update(line)
            yield number, None, digest.hexdigest()
        elif line.strip():  # blank lines separate nothing in JSON Lines; they are not records
            yield number, line, hashlib.sha256(line).hexdigest()


def plan_records(url: str, max_bytes: int, known: Known) -> Iterator[tuple[str, str | None, str | None]]:
    """(source id, content sha256, skip reason or None) of each record a read of ``url`` meets,
    decided exactly as `read_records` decides, without parsing anything (for ``--dry_run``)."""
    previous = known.get(source_id(url, 0))
    digest = input_digest(url)
    if previous is not None and previous[0] == digest:
        yield url, digest, previous[1]
        return
    try:
        fmt, compression = detect_format(url)
    except ArticleRejected:
        fmt = compression = None
    if fmt != "jsonl":
        yield url, digest, None
        return
    try:
        with fsspec.open(url, "rb", compression=compression) as f:
            for number, _, sha in jsonl_lines(f, max_bytes):
                sid = source_id(url, number)
                entry = known.get(sid)
                yield sid, sha, entry[1] if entry is not None and entry[0] == sha else None
    except Exception:  # noqa: BLE001 - the read rejects the rest of the file, as one record
        yield url, digest, None


@dataclasses.dataclass(frozen=True)
class FileRead:
    """How many records one matched file produced (articles, rejections, skips); for the summary.

    ``last_line``: for a JSON Lines file read line by line, its last record's line number (0:
    none), so the publish can drop the rows of lines the feed no longer has; None otherwise.
    """

    source_path: str
    records: int
    last_line: int | None = None


#: Bytes asked of a file per read: ``f.read(n)`` allocates n bytes up front, so one read of
#: the whole cap allocated --max_article_bytes for every file, however small.
READ_CHUNK = 64 << 10


def _read_capped(f, max_bytes: int) -> bytes:
    chunks, total = [], 0
    while True:
        chunk = f.read(min(READ_CHUNK, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise ArticleRejected(f"more than --max_article_bytes={max_bytes} bytes (after decompression)", errors.TOO_LARGE)


def read_records(
    url: str,
    max_bytes: int,
    jsonl_fields: JsonlFields = JsonlFields(),
    known: Known | None = None,
    repair: bool = True,
) -> Iterator[Any]:
    """Articles of one file, and rejections for bad records inside it (JSON Lines).

    Raises `ArticleRejected` when the file as a whole is unusable. Reads through fsspec's
    decompression, and never more than ``max_bytes`` per article, so a decompression bomb is
    rejected, not loaded. An input whose source id and content hash are in ``known`` is not
    parsed again: it comes out on the ``skipped`` output as a `SkippedInput` with the reason
    ``known`` gives. ``repair=False`` skips the mojibake repair (the costliest part of reading), for a
    pass that only looks at the lines.
    """
    known = known or {}
    previous = known.get(source_id(url, 0))
    if previous is not None:
        try:
            digest = input_digest(url)
        except OSError as exc:
            raise unreadable(exc, None) from exc
        if digest == previous[0]:
            yield beam.pvalue.TaggedOutput(SKIPPED, SkippedInput(url, previous[1]))
            return
    fmt, compression = detect_format(url)
    try:
        with fsspec.open(url, "rb", compression=compression) as f:
            if fmt == "jsonl":
                yield from _jsonl_records(f, url, max_bytes, jsonl_fields, known, repair)
                return
            data = _read_capped(f, max_bytes)
    except (ArticleRejected, GeneratorExit):
        raise
    except Exception as exc:  # noqa: BLE001 - classified: bad data or a refused read, else a bug
        rejected = unreadable(exc, compression)
        if rejected is None:
            raise
        raise rejected from exc
    text, encoding = decode_bytes(data)
    fields: dict[str, Any] = {"text": text}
    if fmt == "html":
        fields = html_record(text)
    yield _article(url, data, encoding, fmt, fields, repair=repair)


def unreadable(exc: BaseException, compression: str | None) -> ArticleRejected | None:
    """The rejection for a read that failed because of the file (corrupt or cut-short compressed
    data, a refused read), or None for anything else (a bug keeps its traceback)."""
    corrupt = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)
    if compression and (isinstance(exc, corrupt) or type(exc).__name__ == "ZstdError" or (isinstance(exc, OSError) and exc.errno is None)):
        return ArticleRejected(f"{compression} data is corrupt or cut short: {exc}", errors.CORRUPT_COMPRESSED)
    if isinstance(exc, OSError):
        return ArticleRejected(f"cannot read the file: {exc.strerror or exc}", errors.UNREADABLE)
    return None


def _article(
    url: str, data: bytes, encoding: str, fmt: str, fields: dict[str, Any], line: int | None = None, repair: bool = True
) -> Article:
    text, repaired = repair_text(fields["text"]) if repair else (fields["text"], False)
    # The title and author go through the same repair ("Itâ\x80\x99s" of a feed's title too).
    fields = {k: (repair_text(v)[0] if repair and isinstance(v, str) and k in ("title", "author") else v) for k, v in fields.items()}
    return Article(
        source_path=url,
        source_line=line,
        source_bytes=len(data),
        content_sha256=hashlib.sha256(data).hexdigest(),
        input_format=fmt,
        encoding=encoding,
        text=text,
        text_repaired=repaired,
        title=fields.get("title"),
        author=fields.get("author"),
        url=fields.get("url"),
        meta_date=fields.get("date"),
    )


def _jsonl_records(
    f, url: str, max_bytes: int, jsonl_fields: JsonlFields, known: Known, repair: bool = True
) -> Iterator[Any]:
    for number, line, sha in jsonl_lines(f, max_bytes):
        sid = source_id(url, number)
        previous = known.get(sid)
        if previous is not None and previous[0] == sha:
            yield beam.pvalue.TaggedOutput(SKIPPED, SkippedInput(sid, previous[1]))
            continue
        if line is None:
            yield _rejected_line(url, number, sha, ArticleRejected(f"line longer than --max_article_bytes={max_bytes}", errors.TOO_LARGE))
            continue
        try:
            record = jsonl_record(json.loads(line.decode("utf-8-sig")), jsonl_fields)
            yield _article(url, line, "utf-8", "jsonl", record, number, repair)
        except (ValueError, ArticleRejected) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            if not isinstance(exc, ArticleRejected):
                exc = ArticleRejected(f"not a JSON line: {exc}", errors.BAD_RECORD)
            yield _rejected_line(url, number, sha, exc)


def _rejected_line(url: str, number: int, sha: str | None, exc: Exception) -> beam.pvalue.TaggedOutput:
    return beam.pvalue.TaggedOutput(REJECTED, rejection("read", url, exc, sha, number))


class _KnownMap(dict):
    """A dict `Shared` can hold (it keeps weak references)."""


class KnownInputs:
    """A run's skip list (`Known`, written by the driver as JSON), loaded once per worker
    process: every DoFn given the same `KnownInputs` shares one copy through `Shared`."""

    def __init__(self, url: str | None):
        self.url = url
        self._shared = shared.Shared()

    def acquire(self) -> Known:
        if not self.url:
            return {}
        return self._shared.acquire(lambda: _KnownMap(load_known(self.url)), tag=self.url)


class _ReadFn(beam.DoFn):
    def __init__(self, max_bytes: int, jsonl_fields: JsonlFields, known_inputs: KnownInputs):
        self._max_bytes = max_bytes
        self._jsonl_fields = jsonl_fields
        self._known_inputs = known_inputs
        self._known: Known = {}

    def setup(self) -> None:
        self._known = self._known_inputs.acquire()

    def process(self, url: str) -> Iterator[Any]:
        records, last_line = 0, 0
        read = lambda u: read_records(u, self._max_bytes, self._jsonl_fields, self._known)  # noqa: E731
        for output in run_guarded("read", url, read):
            if isinstance(output, beam.pvalue.TaggedOutput) and output.tag == REJECTED:
                output = beam.pvalue.TaggedOutput(REJECTED, _with_identity(output.value, url))
            line = _line_of(output)
            if line is None:  # the file as a whole was skipped or rejected
                last_line = None
            elif last_line is not None:
                last_line = max(last_line, line)
            records += 1
            yield output
        is_jsonl = _format_of(url) == "jsonl"
        yield beam.pvalue.TaggedOutput(FILE_READS, FileRead(url, records, last_line if is_jsonl else None))
        faults.reached("read")


def _line_of(output: Any) -> int | None:
    """The JSON Lines line number of a read output; None for a whole file."""
    value = output.value if isinstance(output, beam.pvalue.TaggedOutput) else output
    if isinstance(value, SkippedInput):
        line = split_source_id(value.source_id)[1]
        return line or None
    return getattr(value, "source_line", None)


def _format_of(url: str) -> str | None:
    try:
        return detect_format(url)[0]
    except ArticleRejected:
        return None


def _with_identity(rejected: Rejection, url: str) -> Rejection:
    """A whole-file rejection carries the file's content hash, so the ledger can tell next
    time whether the same file is back unchanged."""
    if rejected.content_sha256 is not None or rejected.source_line is not None:
        return rejected
    try:
        return dataclasses.replace(rejected, content_sha256=input_digest(url))
    except Exception:  # noqa: BLE001 - unreadable: it is retried every run
        return rejected


def load_known(url: str | None) -> dict[str, tuple[str, str]]:
    """The known-inputs file the driver wrote for this run (see `Known`)."""
    if not url:
        return {}
    with fsspec.open(url, "r", encoding="utf-8") as f:
        return {sid: (sha, reason) for sid, (sha, reason) in json.load(f).items()}


class ReadArticles(beam.PTransform):
    """File URLs -> `Article`s (main), rejections, one `FileRead` per file (``file_reads``), and
    a `SkippedInput` per input a committed run already handled (``skipped``).

    ``known_inputs``: a JSON file ``{source_id: [content_sha256, skip reason]}`` (see `Known`),
    or a `KnownInputs` shared with other transforms of the run.
    """

    def __init__(
        self, max_bytes: int, jsonl_fields: JsonlFields = JsonlFields(), known_inputs: KnownInputs | str | None = None
    ):
        super().__init__()
        if not isinstance(known_inputs, KnownInputs):
            known_inputs = KnownInputs(known_inputs)
        self._args = (max_bytes, jsonl_fields, known_inputs)

    def expand(self, files):
        return files | "ReadFile" >> beam.ParDo(_ReadFn(*self._args)).with_outputs(
            REJECTED, FILE_READS, SKIPPED, main="articles"
        )
