"""Input formats: which parser a file needs, and the pure parsing functions behind each.

A file's format comes from its name: ``.txt`` (and no suffix) is plain text, ``.html``/``.htm``
goes through trafilatura, ``.jsonl``/``.ndjson`` holds one article per line. A compression
suffix (``.gz``, ``.bz2``, ``.zst``, ``.xz``) may follow any of them; fsspec decompresses.
"""
from __future__ import annotations

import codecs
import dataclasses
import posixpath
import re
import unicodedata
from typing import Any

import charset_normalizer
import ftfy
import ftfy.chardata
from ftfy.badness import is_bad

from transforms import errors
from transforms.errors import ArticleRejected, SettingError

FORMATS = {".txt": "text", ".text": "text", "": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl", ".ndjson": "jsonl"}
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".xz": "xz"}
#: ftfy repairs mojibake and stray escapes; it must not restyle real text (quotes, widths).
_FTFY = ftfy.TextFixerConfig(
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    fix_line_breaks=False,
    normalization="NFC",
    explain=False,
)


def detect_format(url: str) -> tuple[str, str | None]:
    """(format, fsspec compression or None) from a file name; unknown names are rejected."""
    name = url.rsplit("/", 1)[-1].lower()
    stem, suffix = posixpath.splitext(name)
    compression = COMPRESSIONS.get(suffix)
    if compression:
        stem, suffix = posixpath.splitext(stem)
    if suffix not in FORMATS or (suffix == "" and name.startswith(".")):
        known = ", ".join(sorted(s for s in FORMATS if s))
        raise ArticleRejected(f"unsupported input format {suffix or name!r} (known: {known}, optionally compressed)", errors.UNSUPPORTED_FORMAT)
    return FORMATS[suffix], compression


#: What ftfy's fixers other than the mojibake repair and NFC act on: HTML entities, C1 controls,
#: surrogates, and the control characters it removes (its own table).
_OTHER_FIXABLE = re.compile(
    "[&\x80-\x9f\ud800-\udfff" + "".join(re.escape(chr(c)) for c in sorted(ftfy.chardata.CONTROL_CHARS)) + "]"
)


def _repair_line(line: str, config: ftfy.TextFixerConfig) -> str:
    """``ftfy.fix_text(line, config)``, without its dozen passes where none can apply.

    ftfy repairs encoding only where ``is_bad`` sees mojibake (never in ASCII), so a line it does
    not flag, with nothing another fixer acts on, comes out NFC-normalised; and if NFC changes
    it, ftfy looks again at the normalised line, so that one must not be flagged either.
    """
    if not _OTHER_FIXABLE.search(line):
        if line.isascii():
            return line
        if not is_bad(line):
            normalised = unicodedata.normalize(config.normalization, line) if config.normalization else line
            if normalised == line or not is_bad(normalised):
                return normalised
    return ftfy.fix_text(line, config)


def repair_text(text: str) -> tuple[str, bool]:
    """Mojibake repaired with ftfy; True when it changed more than Unicode normalisation.

    Same result as ``ftfy.fix_text``, which fixes line by line, but lines where nothing ftfy
    could change skip its dozen per-line passes (see `_repair_line`).
    """
    out, config, pos = [], _FTFY, 0
    while pos < len(text):  # ftfy's own segmentation: lines, cut at max_decode_length
        end = min(text.find("\n", pos) + 1 or len(text), pos + config.max_decode_length)
        line = text[pos:end]
        if config.unescape_html == "auto" and "<" in line:  # as ftfy: no unescaping from the first tag on
            config = config._replace(unescape_html=False)
        out.append(_repair_line(line, config))
        pos = end
    fixed = "".join(out)
    return fixed, fixed != unicodedata.normalize("NFC", text)


@dataclasses.dataclass(frozen=True)
class JsonlFields:
    """Which JSON keys hold each article field; ``--jsonl_fields text=body,date=published_at``."""

    text: str = "text"
    title: str = "title"
    url: str = "url"
    date: str = "date"
    author: str = "author"

    @classmethod
    def parse(cls, spec: str | None) -> "JsonlFields":
        if not spec:
            return cls()
        mapping: dict[str, str] = {}
        for part in spec.split(","):
            field, sep, key = part.partition("=")
            field, key = field.strip(), key.strip()
            if not sep or not key or field not in {f.name for f in dataclasses.fields(cls)}:
                names = ", ".join(f.name for f in dataclasses.fields(cls))
                raise SettingError(f"{part!r} must be FIELD=KEY with FIELD one of {names}")
            mapping[field] = key
        return cls(**mapping)


#: A UTF-16 surrogate on its own: JSON may escape one ("\\ud83d" of a cut emoji) and Python
#: decodes it, but it is no character, and UTF-8 (Parquet, the tokenizers) cannot hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 control characters in a metadata field (NUL, escape ...): removed. Not C1: text encoded
#: twice holds those, and the mojibake repair turns them back (`read._article`).
_FIELD_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def jsonl_record(record: Any, fields: JsonlFields) -> dict[str, str | None]:
    """The article fields of one parsed JSON line (lone surrogates as U+FFFD); a line without
    usable text is rejected."""
    if not isinstance(record, dict):
        raise ArticleRejected(f"a JSON line must hold an object, not {type(record).__name__}", errors.BAD_RECORD)
    text = record.get(fields.text)
    if not isinstance(text, str):
        problem = "is missing" if fields.text not in record else "is null" if text is None else f"is a {type(text).__name__}, not a string"
        keys = ", ".join(repr(k) for k in list(record)[:12]) + (", ..." if len(record) > 12 else "")
        raise ArticleRejected(
            f"field {fields.text!r} {problem}; the record's keys are {keys or 'none'}: "
            f"name the text's key with --jsonl_fields text=KEY",
            errors.BAD_RECORD,
        )
    if not text.strip():
        raise ArticleRejected(f"field {fields.text!r} is empty", errors.EMPTY_BODY)

    def optional(key: str) -> str | None:
        value = record.get(key)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return None
        return _FIELD_CONTROL.sub("", _SURROGATE.sub("\ufffd", str(value))).strip() or None

    return {
        "text": _SURROGATE.sub("\ufffd", text),
        "title": optional(fields.title),
        "url": optional(fields.url),
        "date": optional(fields.date),
        "author": optional(fields.author),
    }


_TRAFILATURA_CONFIG = None


def html_record(html: str, url: str | None = None) -> dict[str, str | None]:
    """Main text and metadata of an HTML page, via trafilatura."""
    global _TRAFILATURA_CONFIG
    import trafilatura
    from trafilatura.settings import use_config

    if _TRAFILATURA_CONFIG is None:
        _TRAFILATURA_CONFIG = use_config()
        # Its timeout uses signals, which only work in a main thread; Beam runs DoFns in others.
        _TRAFILATURA_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True, config=_TRAFILATURA_CONFIG
    )
    if doc is None or not (doc.text or "").strip():
        raise ArticleRejected("trafilatura found no main text in the HTML page", errors.NO_TEXT_IN_HTML)
    text = doc.text
    if doc.title and text.startswith(doc.title + "\n"):
        text = text[len(doc.title) + 1 :]
    return {
        "text": text,
        "title": doc.title or None,
        "url": doc.url or None,
        "date": _markup_day(html, doc.date, url or doc.url) if doc.date and doc.date[5:10] == "01-01" else doc.date or None,
        "author": doc.author or None,
    }


def _markup_day(html: str, day: str, url: str | None) -> str | None:
    """A January 1st only when the page's markup (meta tags, JSON-LD, ``<time>``, the URL) says
    so: htmldate's search of the text falls back to a bare year as January 1st ("founded in
    2016", "© 2019", an invalid meta date), a made-up day. The price: a real January 1st that
    only the text shows ("Published January 1, 2024") is lost; the cleaner's own date lines may
    still find it."""
    from htmldate import find_date
    from trafilatura.settings import set_date_params

    return day if find_date(html, url=url, **set_date_params(False)) == day else None


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
        damaged = _damaged_utf8(data)
        if damaged:
            return damaged
    encoding = detect_encoding(data)
    if encoding is None:
        kind = errors.BINARY_CONTENT if b"\x00" in data else errors.UNDECODABLE
        raise ArticleRejected("no text encoding fits these bytes", kind)
    return _check_text(data.decode(encoding)), encoding


#: UTF-8 with a few broken sequences (a character cut at the end, a stray byte) is still UTF-8
#: when its valid multi-byte characters outnumber the broken sequences this many times: another
#: encoding would garble every other character ("prÃ©sident") to save one.
UTF8_DAMAGE_RATIO = 4
_NON_ASCII = re.compile("[^\x00-\x7f]")


def _damaged_utf8(data: bytes) -> tuple[str, str] | None:
    """UTF-8 damaged in a few places, read as UTF-8 with U+FFFD there (and an encoding name that
    says so), or None: decoding it as another encoding would garble every other character."""
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - data.count("\ufffd".encode())
    multibyte = len(_NON_ASCII.findall(text)) - text.count("\ufffd")
    if not 0 < broken * UTF8_DAMAGE_RATIO <= multibyte:
        return None
    return _check_text(text), f"utf-8 ({broken} invalid {'sequence' if broken == 1 else 'sequences'} replaced)"


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


#: C0 controls and DEL, except the whitespace ones \t \n \v \f \r: binary data decodes to
#: many. Not C1 (U+0080-U+009F): text encoded twice ("â\x80\x99" for "’") holds those, and the
#: mojibake repair turns them back.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def _check_text(text: str) -> str:
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ArticleRejected(f"{controls} control characters in {len(text)}: binary, not text", errors.BINARY_CONTENT)
    if not text.strip():
        raise ArticleRejected("file holds only whitespace", errors.EMPTY_FILE)
    return text
