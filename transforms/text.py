"""Plain-text helpers shared by the cleaner, the line classifier and the repeated-line counts:
paragraphs, sentence ends, title-like lines. Pure functions, no Beam."""
from __future__ import annotations

import re
import unicodedata
from itertools import groupby

#: Sentence-final marks: Latin . ! ?, CJK 。！？．, Arabic ؟, Urdu ۔, Devanagari danda । ॥,
#: Ethiopic ።, Myanmar ။, Armenian ։.
SENTENCE_STOPS = "[.!?\u3002\uff01\uff1f\uff0e\u061f\u06d4\u0964\u0965\u1362\u104b\u0589]"
#: Closing quotes and brackets that may follow a sentence-final mark.
CLOSING = "[\"'\u201d\u2019)\\]\u300d\u300f\u3011\u300b\uff09\u00bb]*"
SENTENCE_END = re.compile(SENTENCE_STOPS + CLOSING + "$")
ELLIPSIS = ("...", "…")
TITLE_MAX_WORDS = 20
_INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = re.compile(f"[{_INVISIBLES}]")


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no invisible characters (spaces are left to `to_paragraphs`)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    # (looking for each character is far cheaper than the regex's scan of a text that has none)
    return _INVISIBLE.sub("", text) if any(c in text for c in _INVISIBLES) else text


def fold(text: str) -> str:
    """Case, accents and punctuation folded, for comparing names and headlines:
    'Anne-Marie Slaughter' == 'anne marie slaughter'; a soft hyphen or zero-width space joins."""
    text = unicodedata.normalize("NFKD", _INVISIBLE.sub("", text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _looks_hard_wrapped(lines: list[str]) -> bool:
    """True for a block whose lines were wrapped at a fixed width (one paragraph)."""
    if len(lines) < 2:
        return False
    inner = [len(line) for line in lines[:-1]]
    if min(inner) < 40 or max(inner) > 100 or max(inner) - min(inner) > 30:
        return False
    open_ended = sum(1 for line in lines[:-1] if not line.endswith((".", "!", "?", ":", "”", '"')))
    return open_ended * 2 >= len(lines) - 1


def to_paragraphs(text: str) -> list[str]:
    """One paragraph per line, whatever the input style; hard-wrapped blocks are re-joined."""
    paragraphs: list[str] = []
    # A line's runs of spaces as one space, and none at its ends (split() is C speed); a blank
    # line (nothing but spaces) ends a block of lines.
    lines = [" ".join(line.split()) for line in normalise(text).split("\n")]
    for in_block, block in groupby(lines, key=bool):
        if in_block:
            block = list(block)
            if _looks_hard_wrapped(block):
                paragraphs.append(" ".join(block))
            else:
                paragraphs.extend(block)
    return paragraphs


#: Two breadcrumb separators: "Home > News > Politics" is a site's path, not a headline.
_BREADCRUMB = re.compile(r"\s[>»›/]\s.*\s[>»›/]\s")


def looks_like_title(line: str) -> bool:
    words = line.split()
    return (
        2 <= len(words) <= TITLE_MAX_WORDS
        and (line[0].isupper() or line[0].isdigit())
        and not line.endswith((".", "!", ";", ":", ",", '"', "”", "’", "'", ")", *ELLIPSIS))
        and not _BREADCRUMB.search(line)
    )


def is_sentence(line: str) -> bool:
    """A finished sentence: ends with a sentence-final mark (not an ellipsis)."""
    return bool(SENTENCE_END.search(line)) and not line.endswith(ELLIPSIS)
