"""Read stage: expand fsspec URLs/globs into files, then read each file into an `Article`.

Matching goes through fsspec (not Beam's FileSystems) so every fsspec backend works:
local paths, ``file://``, ``memory://``, and ``s3://``/``gs://`` once their backend is
installed. Matching starts from a handful of patterns, so a `Reshuffle` follows it: without
it the whole fused read-clean-NER stage would run in one worker.
"""
from __future__ import annotations

import codecs
import hashlib
import posixpath
import unicodedata
from typing import Iterator

import apache_beam as beam
import charset_normalizer
import fsspec

from schemas.article import Article
from transforms.failures import REJECTED, ArticleRejected, Rejection, rejection, run_guarded

#: Extensions read as plain text. Anything else is rejected as unsupported, not guessed at.
TEXT_SUFFIXES = frozenset({".txt", ".text", ""})
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


def expand_pattern(pattern: str) -> list[str]:
    """Files a URL, glob or directory names, sorted; directories are walked recursively."""
    fs, path = fsspec.core.url_to_fs(pattern)
    if _GLOB_CHARS & set(path):
        infos = fs.glob(path, detail=True)
    elif fs.isdir(path):
        infos = fs.find(path, detail=True)
    elif fs.exists(path):
        infos = {path: fs.info(path)}
    else:
        infos = {}
    files = sorted(p for p, info in infos.items() if info.get("type") != "directory")
    keep_plain = "://" not in pattern  # a plain local path stays a plain path in source_path
    return [p if keep_plain else fs.unstrip_protocol(p) for p in files]


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes to text and name the encoding used.

    UTF-8 (with or without BOM) and BOM-marked UTF-16/32 are decoded directly; anything else
    goes through charset-normalizer. Binary data is rejected rather than decoded into noise.
    """
    if not data:
        raise ArticleRejected("file is empty", "empty_file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(encoding)), encoding
            except UnicodeDecodeError as exc:
                raise ArticleRejected(f"invalid {encoding} after its byte-order mark: {exc}", "undecodable") from exc
    if b"\x00" not in data:
        try:
            return _check_text(data.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            pass
    encoding = detect_encoding(data)
    if encoding is None:
        kind = "binary_content" if b"\x00" in data else "undecodable"
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


def _check_text(text: str) -> str:
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ArticleRejected(f"{controls} control characters in {len(text)}: binary, not text", "binary_content")
    if not text.strip():
        raise ArticleRejected("file holds only whitespace", "empty_file")
    return text


def read_article(url: str, max_bytes: int) -> Article:
    suffix = posixpath.splitext(url.rsplit("/", 1)[-1])[1].lower()
    if suffix not in TEXT_SUFFIXES:
        raise ArticleRejected(f"unsupported input format {suffix!r} (plain text: .txt)", "unsupported_format")
    with fsspec.open(url, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ArticleRejected(f"file is larger than --max_article_bytes={max_bytes}", "too_large")
    text, encoding = decode_bytes(data)
    return Article(
        source_path=url,
        source_bytes=len(data),
        content_sha256=hashlib.sha256(data).hexdigest(),
        encoding=encoding,
        text=text,
    )


class _MatchFn(beam.DoFn):
    def process(self, pattern: str) -> Iterator[str]:
        try:
            files = expand_pattern(pattern)
        except Exception as exc:  # noqa: BLE001 - a bad pattern is a dead letter too
            yield beam.pvalue.TaggedOutput(REJECTED, rejection("match", pattern, exc))
            return
        if not files:
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(pattern, "match", "no_match", "the input pattern matched no file")
            )
        yield from files


class MatchFiles(beam.PTransform):
    """Patterns -> file URLs (main output) and unmatched or failing patterns (``rejected``)."""

    def __init__(self, patterns: list[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        matched = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Expand" >> beam.ParDo(_MatchFn()).with_outputs(REJECTED, main="files")
        )
        files = matched.files | "Spread" >> beam.Reshuffle()
        return {"files": files, REJECTED: matched[REJECTED]}


class _ReadFn(beam.DoFn):
    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes

    def process(self, url: str):
        yield from run_guarded("read", url, lambda u: [read_article(u, self._max_bytes)])


class ReadArticles(beam.PTransform):
    """File URLs -> `Article`s with decoded text (main output) and rejections."""

    def __init__(self, max_bytes: int):
        super().__init__()
        self._max_bytes = max_bytes

    def expand(self, files):
        return files | "ReadFile" >> beam.ParDo(_ReadFn(self._max_bytes)).with_outputs(REJECTED, main="articles")
