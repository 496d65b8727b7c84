"""Read stage: expand fsspec URLs/globs into files, then read each file into an `Article`.

Matching goes through fsspec (not Beam's FileSystems) so every fsspec backend works:
local paths, ``file://``, ``memory://``, and ``s3://``/``gs://`` once their backend is
installed. Matching starts from a handful of patterns, so a `Reshuffle` follows it: without
it the whole fused read-clean-NER stage would run in one worker.
"""
from __future__ import annotations

import codecs
import dataclasses
import hashlib
import itertools
import json
import re
from typing import Any, Iterator, Mapping

import apache_beam as beam
from apache_beam.utils import shared
import charset_normalizer
import fsspec

from transforms import faults
from schemas.article import Article
from transforms import errors
from transforms.errors import ArticleRejected
from transforms.failures import REJECTED, Rejection, rejection, run_guarded
from transforms.formats import COMPRESSIONS, JsonlFields, detect_format, html_record, jsonl_record, repair_text

FILE_READS = "file_reads"
SKIPPED = "skipped"
#: Why a matched input is skipped rather than read (`SkippedInput.reason`).
UNCHANGED = "unchanged"  # written by a committed run, same content, same settings
STALE = "stale"  # written by a committed run with other settings; kept as it is
REJECTED_BEFORE = "rejected_before"  # rejected by a committed run, same content, same settings
HIDDEN_OR_SYSTEM = "hidden_or_system_file"  # .DS_Store, ._*, Thumbs.db, dot-files: not an input
_GLOB_CHARS = set("*?[")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: When the detector finds several encodings equally likely (short texts often tie), the
#: most widespread legacy encodings win: Western text is far more often cp1252 than cp1250.
PREFERRED_ENCODINGS = ("cp1252", "iso8859_15", "cp1250", "cp1251", "iso8859_2", "gb18030", "shift_jis", "euc_kr")
#: Share of control characters above which decoded "text" is really binary data.
_MAX_CONTROL_SHARE = 0.01


#: Files the operating system or a desktop leaves in folders; never articles.
OS_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})


def is_hidden_or_system(relative: str) -> bool:
    """A dot-file (``.DS_Store``, macOS ``._*`` forks), a file in a dot-folder, or an OS file such
    as ``Thumbs.db``: skipped when a directory or glob finds it, read when named explicitly."""
    parts = [p for p in relative.split("/") if p]
    return any(p.startswith(".") for p in parts) or (bool(parts) and parts[-1].lower() in OS_FILES)


@dataclasses.dataclass(frozen=True)
class Matched:
    """What one input pattern names."""

    files: list[str]
    #: Hidden and OS files a directory walk or glob found (see `is_hidden_or_system`).
    ignored: list[str]
    #: Symbolic links to directories (or broken links), not followed.
    not_followed: list[str]


def expand_pattern(pattern: str) -> list[str]:
    """Files a URL, glob or directory names, sorted; directories are walked recursively."""
    return list(match_pattern(pattern).files)


def match_pattern(pattern: str, largest_first: bool = False) -> Matched:
    """The files of a URL, glob or directory.

    Directories are walked recursively, but a symbolic link to a directory is not followed
    (it may loop back on itself); it is reported so the caller can say so. Files come in name
    order, or with ``largest_first`` from the largest down (see `MatchFiles`).
    """
    fs, path = fsspec.core.url_to_fs(pattern)
    base = path
    if _GLOB_CHARS & set(path):
        infos = fs.glob(path, detail=True)
        base = path[: min(path.find(c) for c in _GLOB_CHARS if c in path)].rsplit("/", 1)[0]
    elif fs.isdir(path):
        infos = fs.find(path, detail=True)
    elif fs.exists(path):
        infos = {path: fs.info(path)}
        base = None  # named explicitly: read whatever it is
    else:
        infos = {}
    files, ignored, skipped = [], [], []
    for name, info in sorted(infos.items()):
        kind = info.get("type")
        if info.get("islink") and kind != "file":
            try:
                kind = fs.info(name).get("type")  # follows the link
            except OSError:
                kind = "broken link"
            if kind != "file":
                skipped.append(name)
                continue
        if kind == "directory":
            continue
        if base is not None and is_hidden_or_system(name[len(base) :] if name.startswith(base) else name.rsplit("/", 1)[-1]):
            ignored.append(name)
        else:
            files.append(name)
    if largest_first:
        files.sort(key=lambda name: -_size(infos[name]))  # stable: ties keep name order
    keep_plain = "://" not in pattern  # a plain local path stays a plain path in source_path
    as_url = (lambda p: p) if keep_plain else fs.unstrip_protocol
    return Matched([as_url(p) for p in files], [as_url(p) for p in ignored], [as_url(p) for p in skipped])


def _size(info: Mapping[str, Any]) -> int:
    """A listing's size for ordering only: a backend that gives none (or no number) sorts last."""
    try:
        return int(info.get("size") or 0)
    except (TypeError, ValueError):
        return 0


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes to text and name the encoding used.

    UTF-8 (with or without BOM) and BOM-marked UTF-16/32 are decoded directly; anything else
    goes through charset-normalizer. Binary data is rejected rather than decoded into noise.
    """
    if not data:
        raise ArticleRejected("file is empty", errors.EMPTY_FILE)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(encoding)), encoding
            except UnicodeDecodeError as exc:
                raise ArticleRejected(f"invalid {encoding} after its byte-order mark: {exc}", errors.UNDECODABLE) from exc
    if b"\x00" not in data:
        try:
            return _check_text(data.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            pass
    encoding = detect_encoding(data)
    if encoding is None:
        kind = errors.BINARY_CONTENT if b"\x00" in data else errors.UNDECODABLE
        raise ArticleRejected("no text encoding fits these bytes", kind)
    return _check_text(data.decode(encoding)), encoding


def detect_encoding(data: bytes) -> str | None:
    """charset-normalizer's best guess, with ties broken towards the common encodings."""
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None
    top = matches[0]
    tied = [m for m in matches if (m.chaos, m.coherence) == (top.chaos, top.coherence)]
    for preferred in PREFERRED_ENCODINGS:
        if any(preferred in m.could_be_from_charset for m in tied):
            return preferred
    return top.encoding


#: Unicode category Cc (C0 and C1 controls) except the whitespace ones \t \n \v \f \r.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _check_text(text: str) -> str:
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ArticleRejected(f"{controls} control characters in {len(text)}: binary, not text", errors.BINARY_CONTENT)
    if not text.strip():
        raise ArticleRejected("file holds only whitespace", errors.EMPTY_FILE)
    return text


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
    previous = known.get(url)
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
                source_id = f"{url}#L{number}"
                entry = known.get(source_id)
                yield source_id, sha, entry[1] if entry is not None and entry[0] == sha else None
    except Exception:  # noqa: BLE001 - the read rejects the rest of the file, as one record
        yield url, digest, None


@dataclasses.dataclass(frozen=True)
class FileRead:
    """How many records one matched file produced (articles + rejected records); for the summary."""

    source_path: str
    records: int


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
    previous = known.get(url)
    if previous is not None and input_digest(url) == previous[0]:
        yield beam.pvalue.TaggedOutput(SKIPPED, SkippedInput(url, previous[1]))
        return
    fmt, compression = detect_format(url)
    with fsspec.open(url, "rb", compression=compression) as f:
        if fmt == "jsonl":
            yield from _jsonl_records(f, url, max_bytes, jsonl_fields, known, repair)
            return
        data = _read_capped(f, max_bytes)
    text, encoding = decode_bytes(data)
    fields: dict[str, Any] = {"text": text}
    if fmt == "html":
        fields = html_record(text)
    yield _article(url, data, encoding, fmt, fields, repair=repair)


def _article(
    url: str, data: bytes, encoding: str, fmt: str, fields: dict[str, Any], line: int | None = None, repair: bool = True
) -> Article:
    text, repaired = repair_text(fields["text"]) if repair else (fields["text"], False)
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
        source_id = f"{url}#L{number}"
        previous = known.get(source_id)
        if previous is not None and previous[0] == sha:
            yield beam.pvalue.TaggedOutput(SKIPPED, SkippedInput(source_id, previous[1]))
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


class _MatchFn(beam.DoFn):
    def process(self, pattern: str) -> Iterator[str]:
        try:
            matched = match_pattern(pattern, largest_first=True)
        except Exception as exc:  # noqa: BLE001 - a bad pattern is a dead letter too
            yield beam.pvalue.TaggedOutput(REJECTED, rejection("match", pattern, exc))
            return
        for name in matched.ignored:
            yield beam.pvalue.TaggedOutput(SKIPPED, SkippedInput(name, HIDDEN_OR_SYSTEM))
        not_followed, files = matched.not_followed, matched.files
        for link in not_followed:
            yield beam.pvalue.TaggedOutput(
                REJECTED,
                Rejection(link, "match", errors.SYMLINK_NOT_FOLLOWED, "a symbolic link to a directory (or a broken link) is not followed"),
            )
        if not files and not not_followed and not matched.ignored:
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(pattern, "match", errors.NO_MATCH, "the input pattern matched no file")
            )
        yield from files


class MatchFiles(beam.PTransform):
    """Patterns -> file URLs (main output), unmatched or failing patterns (``rejected``) and
    the hidden and OS files they found (``skipped``).

    Each pattern's files are emitted largest first. The DirectRunner deals the spread files
    to its workers in turn, in that order, so no large file comes last to keep one worker busy
    while the other idles (random order left one worker ~5% more text, up to 12%); runners
    that balance work dynamically do best with the longest tasks first too.
    """

    def __init__(self, patterns: list[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        matched = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Expand" >> beam.ParDo(_MatchFn()).with_outputs(REJECTED, SKIPPED, main="files")
        )
        files = matched.files | "Spread" >> beam.Reshuffle()
        return {"files": files, REJECTED: matched[REJECTED], SKIPPED: matched[SKIPPED]}


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
        records = 0
        read = lambda u: read_records(u, self._max_bytes, self._jsonl_fields, self._known)  # noqa: E731
        for output in run_guarded("read", url, read):
            if isinstance(output, beam.pvalue.TaggedOutput) and output.tag == REJECTED:
                output = beam.pvalue.TaggedOutput(REJECTED, _with_identity(output.value, url))
            records += 1
            yield output
        yield beam.pvalue.TaggedOutput(FILE_READS, FileRead(url, records))
        faults.reached("read")


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
        return {source_id: (sha, reason) for source_id, (sha, reason) in json.load(f).items()}


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
