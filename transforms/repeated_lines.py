"""Lines repeated across many articles of one source: site navigation, section labels, footers.

A site's template shows up in every page it serves, so a line at the edge of an article that
also sits in many other articles of the same source (its host, else its folder or feed) is
boilerplate however it is worded, in any language. The counts come from a first pass over the
run's files, in bounded memory: each source keeps a mergeable Misra-Gries summary of at most
`CAPACITY` line counts, which finds every line in more than 1/CAPACITY of the source's lines
(a template line is in nearly every article), however large the run. Only the hashes of
repeated lines reach the cleaner, as a side input.

What may go is limited so content survives: only lines at the top or bottom edge of an
article (a run of repeated lines from either end), never a finished sentence (updates of one
story repeat their lead paragraph), and never the title-like last line of the top run when
prose follows it (updates repeat their headline too).
"""
from __future__ import annotations

import hashlib
import posixpath
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import apache_beam as beam

from schemas.article import Article
from transforms.formats import detect_format
from transforms.read import read_records
from transforms.text import is_sentence, looks_like_title, to_paragraphs

#: Line counts a source's summary keeps; a template line (in nearly every article) always fits.
CAPACITY = 2000
#: Lines longer than this are paragraphs, not navigation: they are not counted.
MAX_WORDS = 40


def line_key(line: str) -> int | None:
    """A 64-bit key for a line, the same whatever its case and spacing; None for lines not counted."""
    words = line.lower().split()
    if not words or len(words) > MAX_WORDS:
        return None
    return int.from_bytes(hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest(), "big")


def source_of(article: Article) -> str:
    """The unit whose articles share a template: the page's host when known, else the feed file
    (JSON Lines) or the folder the file came from."""
    if article.url:
        host = urlsplit(article.url).hostname
        if host:
            return host.removeprefix("www.")
    if article.source_line is not None:
        return article.source_path
    return posixpath.dirname(article.source_path)


class RepeatedLinesFn(beam.CombineFn):
    """Per source: (articles, {line key: articles containing it}) -> the keys of repeated lines.

    The count map is a mergeable Misra-Gries summary: past ``2 * capacity`` keys it subtracts
    the ``capacity + 1``-th largest count from all and drops what falls to zero, so a count is
    never over the truth and a line in more than 1/capacity of the lines is never lost.
    """

    def __init__(self, min_articles: int, min_share: float, capacity: int = CAPACITY):
        self._min_articles, self._min_share, self._capacity = min_articles, min_share, capacity

    def create_accumulator(self) -> tuple[int, dict[int, int]]:
        return 0, {}

    def add_input(self, acc: tuple[int, dict[int, int]], keys: Iterable[int]) -> tuple[int, dict[int, int]]:
        articles, counts = acc
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        return articles + 1, self._prune(counts)

    def merge_accumulators(self, accumulators: Iterable[tuple[int, dict[int, int]]]) -> tuple[int, dict[int, int]]:
        articles, merged = 0, {}
        for n, counts in accumulators:
            articles += n
            for key, c in counts.items():
                merged[key] = merged.get(key, 0) + c
            merged = self._prune(merged)
        return articles, merged

    def _prune(self, counts: dict[int, int]) -> dict[int, int]:
        if len(counts) <= 2 * self._capacity:
            return counts
        cut = sorted(counts.values(), reverse=True)[self._capacity]
        return {k: c - cut for k, c in counts.items() if c > cut}

    def extract_output(self, acc: tuple[int, dict[int, int]]) -> frozenset[int]:
        articles, counts = acc
        needed = max(self._min_articles, self._min_share * articles)
        return frozenset(k for k, c in counts.items() if c >= needed)


def repeated_edge_lines(lines: dict[int, str], repeated: frozenset[int]) -> list[int]:
    """Keys of ``lines`` (index -> text, in document order) that are repeated lines at the
    article's two edges and may go; the rest of the article always stays."""
    order = sorted(lines)

    def removable(i: int) -> bool:
        return not is_sentence(lines[i]) and line_key(lines[i]) in repeated

    top: list[int] = []
    for i in order:
        if not removable(i):
            break
        top.append(i)
    rest = order[len(top) :]
    if top and rest and looks_like_title(lines[top[-1]]) and not looks_like_title(lines[rest[0]]):
        top.pop()  # a headline over prose: this story's title, repeated by its updates
        rest = order[len(top) :]
    bottom: list[int] = []
    for i in reversed(rest):
        if not removable(i):
            break
        bottom.append(i)
    if len(top) + len(bottom) >= len(order):
        return []  # nothing but template: leave it to the other signals, never empty the article
    return top + bottom


class _LineKeysFn(beam.DoFn):
    """File URL -> (source, keys of its article's lines), per article; HTML is skipped (its main
    text was chosen by trafilatura) and unreadable files are left to the main read."""

    def __init__(self, max_bytes: int, jsonl_fields, known_inputs):
        self._args = (max_bytes, jsonl_fields)
        self._known_inputs = known_inputs

    def setup(self) -> None:
        self._known = self._known_inputs.acquire() if self._known_inputs else {}

    def process(self, url: str) -> Iterator[tuple[str, frozenset[int]]]:
        try:
            if detect_format(url)[0] == "html":
                return
            for record in read_records(url, *self._args, self._known, repair=False):
                if isinstance(record, Article) and record.text:
                    keys = {line_key(p) for p in to_paragraphs(record.text)}
                    keys.discard(None)
                    yield source_of(record), frozenset(keys)
        except Exception:  # noqa: BLE001 - only a signal here; the main read rejects the file with its reason
            return


class CountRepeatedLines(beam.PTransform):
    """File URLs -> (source, frozenset of repeated line keys), for an ``AsDict`` side input."""

    def __init__(self, max_bytes: int, jsonl_fields, known_inputs, min_articles: int, min_share: float):
        super().__init__()
        self._read_args = (max_bytes, jsonl_fields, known_inputs)
        self._combine = RepeatedLinesFn(min_articles, min_share)

    def expand(self, files) -> Any:
        return (
            files
            | "LineKeys" >> beam.ParDo(_LineKeysFn(*self._read_args))
            | "CountPerSource" >> beam.CombinePerKey(self._combine)
        )
