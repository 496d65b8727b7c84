"""Clean stage: remove boilerplate, lift metadata out of the text, settle the publication date.

The rules are data (`rules/boilerplate.yaml`); this module only knows the rule *kinds* and
where each kind may apply. Everything a rule removes is kept, with the rule's name, in the
article's ``removed`` list so users can audit the cleaner. Text logic lives in plain
functions (`clean_text`, `to_paragraphs`, ...) so it is testable without Beam.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from typing import Any, Iterable, Iterator

import apache_beam as beam
import yaml

from schemas.article import Article
from transforms import comment_threads, errors, line_classifier, text_dates, text_titles
from transforms.datafiles import read_yaml
from transforms.dates import date_from_path, parse_date_text
from transforms.errors import ArticleRejected, RulePackError
from transforms.failures import REJECTED, run_guarded
from transforms.language import detect_language
from transforms.line_features import word_equivalents
from transforms.package_data import rules_file
from transforms.repeated_lines import repeated_edge_lines, source_of
from transforms.text import ELLIPSIS, SENTENCE_END, is_sentence, looks_like_title, to_paragraphs

RULE_KINDS = ("header", "tail", "line", "lift")
LINE_PLACES = ("anywhere", "head", "footer")
LIFTED_FIELDS = ("date", "dateline", "author", "credit", "title")
#: Lines a `where: head` rule may look at, counted from the top.
HEAD_LINES = 4
#: After a widget marker, lines up to this many words count as teaser headlines.
TEASER_MAX_WORDS = 25


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    pattern: re.Pattern[str]
    where: str = "anywhere"
    max_words: int | None = None

    def match(self, line: str) -> re.Match[str] | None:
        # split() stops after max_words + 1 words: a long line costs no more than a short one
        if self.max_words is not None and len(line.split(None, self.max_words)) > self.max_words:
            return None
        return self.pattern.search(line)


@dataclasses.dataclass(frozen=True)
class CleanResult:
    body: str
    removed: tuple[dict[str, str], ...]
    meta: dict[str, str]
    #: The body's language (`detect_language`), None when unsure.
    language: str | None = None


def load_rules(user_packs: Iterable[str] | str | None = None) -> tuple[Rule, ...]:
    """The packaged rule pack, then each user pack (fsspec URLs) in order.

    A user rule named like an earlier rule replaces it in place; ``enabled: false`` drops it.
    """
    text = rules_file("boilerplate.yaml").read_text("utf-8")
    rules = {r.name: r for r in parse_rules(yaml.safe_load(text), "<packaged boilerplate.yaml>")}
    for path in [user_packs] if isinstance(user_packs, str) else list(user_packs or ()):
        spec = read_yaml(path)
        for name in _disabled(spec, path):
            if rules.pop(name, None) is None:
                raise RulePackError(f"{path}: cannot disable {name!r}: no earlier rule has that name")
        rules.update((r.name, r) for r in parse_rules(spec, path))
    return tuple(rules.values())


def _disabled(spec: Any, source: str) -> list[str]:
    if not isinstance(spec, dict) or not isinstance(spec.get("rules"), list):
        raise RulePackError(f"{source}: expected a mapping with a 'rules' list")
    names = [r.get("name") for r in spec["rules"] if isinstance(r, dict) and r.get("enabled") is False]
    spec["rules"] = [r for r in spec["rules"] if not (isinstance(r, dict) and r.get("enabled") is False)]
    return names


def parse_rules(spec: Any, source: str = "<rules>") -> tuple[Rule, ...]:
    if not isinstance(spec, dict) or not isinstance(spec.get("rules"), list):
        raise RulePackError(f"{source}: expected a mapping with a 'rules' list")
    rules, seen = [], set()
    for i, raw in enumerate(spec["rules"]):
        where = f"{source}: rule #{i + 1}"
        if not isinstance(raw, dict) or not raw.get("name") or not raw.get("pattern"):
            raise RulePackError(f"{where}: every rule needs a 'name' and a 'pattern'")
        name = str(raw["name"])
        if name in seen:
            raise RulePackError(f"{where}: duplicate rule name {name!r}")
        seen.add(name)
        kind = raw.get("kind", "line")
        if kind not in RULE_KINDS:
            raise RulePackError(f"{where} ({name}): kind must be one of {RULE_KINDS}, not {kind!r}")
        place = raw.get("where", "anywhere")
        if place not in LINE_PLACES:
            raise RulePackError(f"{where} ({name}): where must be one of {LINE_PLACES}, not {place!r}")
        if not isinstance(raw["pattern"], str):
            raise RulePackError(f"{where} ({name}): pattern must be a string (quote it), not {raw['pattern']!r}")
        flags = re.IGNORECASE if raw.get("ignore_case", True) else 0
        try:
            pattern = re.compile(raw["pattern"], flags)
        except re.error as exc:
            raise RulePackError(f"{where} ({name}): bad pattern: {exc}") from exc
        unknown = set(pattern.groupindex) - set(LIFTED_FIELDS)
        if unknown:
            raise RulePackError(f"{where} ({name}): unknown named groups {sorted(unknown)}; use {LIFTED_FIELDS}")
        max_words = raw.get("max_words")
        if max_words is not None and (isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1):
            raise RulePackError(f"{where} ({name}): max_words must be a whole number of at least 1, not {max_words!r}")
        rules.append(Rule(name, kind, pattern, place, max_words))
    return tuple(rules)


def _first_match(rules: list[Rule], line: str) -> tuple[Rule | None, re.Match[str] | None]:
    """The first of ``rules`` that matches ``line``, and its match (a whole page's lines times
    the pack's rules: the line's words are counted once, not once per rule)."""
    words = None
    for rule in rules:
        if rule.max_words is not None:
            words = len(line.split()) if words is None else words
            if words > rule.max_words:
                continue
        match = rule.pattern.search(line)
        if match:
            return rule, match
    return None, None


class _Matcher:
    """One rule pack's rules by kind and place, with the first match of each short line
    remembered: a page repeats its template lines and a site's pages repeat them again, so
    those are looked up, not matched again. Only lines up to `MEMO_CHARS` are kept (template
    lines are short; a long paragraph seldom repeats) and the memo is emptied when it holds
    `MEMO_LINES`, so memory stays flat however many pages a process cleans."""

    MEMO_LINES = 20_000
    MEMO_CHARS = 300

    def __init__(self, rules: tuple[Rule, ...]):
        self.by_kind = {kind: [r for r in rules if r.kind == kind] for kind in RULE_KINDS}
        lines = self.by_kind["line"]
        self.in_head = [r for r in lines if r.where != "footer"]
        self.elsewhere = [r for r in self.in_head if r.where != "head"]
        self.footer = [r for r in lines if r.where in ("footer", "anywhere")]
        self._memo: dict[tuple[int, str], tuple[Rule | None, re.Match[str] | None]] = {}

    def first(self, which: int, line: str) -> tuple[Rule | None, re.Match[str] | None]:
        """The first rule of list ``which`` (`HEAD`, `ELSEWHERE`, `FOOTER`, `TAIL`) matching ``line``."""
        rules = (self.in_head, self.elsewhere, self.footer, self.by_kind["tail"])[which]
        if len(line) > self.MEMO_CHARS:
            return _first_match(rules, line)
        key = (which, line)
        found = self._memo.get(key)
        if found is None:
            found = _first_match(rules, line)
            if len(self._memo) >= self.MEMO_LINES:
                self._memo.clear()
            self._memo[key] = found
        return found


HEAD, ELSEWHERE, FOOTER, TAIL = range(4)


@functools.lru_cache(maxsize=8)
def _matcher(rules: tuple[Rule, ...]) -> _Matcher:
    return _Matcher(rules)


def forget_rule_matches() -> None:
    """Drop the remembered matches (a benchmark cleaning the same pages again must match them again)."""
    _matcher.cache_clear()


def _is_teaser(line: str, matcher: _Matcher) -> bool:
    """A teaser headline (short, no closing full stop), a teaser summary ("..."), or a marker.

    A finished sentence is prose: one after a marker means the marker was not a widget.
    """
    return (
        line.endswith(ELLIPSIS)
        or (word_equivalents(line) <= TEASER_MAX_WORDS and not SENTENCE_END.search(line))
        or matcher.first(TAIL, line)[0] is not None
    )


#: A lifted field longer than this is not metadata ("By " and a run-together page): left out.
MAX_LIFTED_CHARS = 300


def _lift(meta: dict[str, str], match: re.Match[str]) -> None:
    for key, value in match.groupdict().items():
        if value and value.strip() and key not in meta and len(value.strip()) <= MAX_LIFTED_CHARS:
            meta[key] = value.strip()


def clean_text(
    text: str, rules: Iterable[Rule], classify: bool = True, repeated: frozenset[int] = frozenset(), has_title: bool = False
) -> CleanResult:
    """Apply a rule pack, then the learned line classifier, to one article's text.

    Named rules go first, so what they recognise is removed under their name and their
    metadata is lifted; the line classifier (`transforms/line_classifier.py`) then decides
    the rest. Text shaped like a whole scraped page (many short lines) is decided line by
    line; text shaped like an article only loses low-scoring runs at its two ends, so
    subheadings and short sentences inside it always stay. ``repeated``: keys
    (`repeated_lines.line_key`) of lines the article's source repeats across its articles.
    ``has_title``: the input gave the title (a feed field), so no line is taken for one.
    """
    matcher = _matcher(tuple(rules))
    by_kind = matcher.by_kind
    paragraphs = to_paragraphs(text)
    whole_page = classify and line_classifier.looks_like_page(paragraphs)
    if classify and paragraphs:
        classified = line_classifier.clean_lines(paragraphs, mode="page" if whole_page else "article")
        if not whole_page:
            # In an article only runs at the two ends may go, and a finished sentence is
            # content however the model scores it: the runs stop at the first one.
            kept = [i for i, (k, p) in enumerate(zip(classified, paragraphs)) if k or is_sentence(p)]
            first, last = (kept[0], kept[-1]) if kept else (0, len(paragraphs) - 1)
            classified = [first <= i <= last for i in range(len(paragraphs))]
    else:
        classified = [True] * len(paragraphs)
    keep = dict(enumerate(paragraphs))  # index -> text; the index keeps removals in document order
    removed: list[tuple[int, str, str]] = []
    meta: dict[str, str] = {}

    def drop(i: int, rule: str) -> None:
        removed.append((i, rule, keep.pop(i)))

    # 1. A metadata header prefixing the first paragraph.
    if paragraphs:
        for rule in by_kind["header"]:
            match = rule.match(paragraphs[0])
            if match and match.end() > 0:
                _lift(meta, match)
                removed.append((0, rule.name, paragraphs[0][: match.end()].strip()))
                rest = paragraphs[0][match.end() :].strip()
                if rest:
                    keep[0] = rest
                else:
                    del keep[0]
                break

    # 2. A widget tail: the first marker after which everything is teaser-like, so no marker
    #    before the last line that is not (found from the end, once: a page of many markers
    #    would otherwise check the lines after each of them again).
    order = sorted(keep)
    last_prose = next((pos for pos in range(len(order) - 1, -1, -1) if not _is_teaser(keep[order[pos]], matcher)), -1)
    for pos in range(max(last_prose, 0), len(order)):
        marker = matcher.first(TAIL, keep[order[pos]])[0]
        if marker:
            for j in order[pos:]:
                drop(j, marker.name)
            break

    # 2b. Readers' comments: a thread of "Name says:" headers under the article's text, and
    #     everything below its first header.
    #     (Whole pages only: an article's own text holds no one's comments.)
    thread = comment_threads.thread_start(paragraphs, [i in keep and classified[i] for i in range(len(paragraphs))]) if whole_page else None
    if thread is not None:
        for i in sorted(i for i in keep if i >= thread):
            drop(i, "comment_thread")

    # 3. The footer: the trailing run of lines that footer (or anywhere) rules remove.
    for i in sorted(keep, reverse=True):
        rule, match = matcher.first(FOOTER, keep[i])
        if rule is None:
            break
        _lift(meta, match)
        drop(i, rule.name)

    # 4. Head and anywhere lines.
    head = set(sorted(keep)[:HEAD_LINES])
    for i in sorted(keep):
        rule, match = matcher.first(HEAD if i in head else ELSEWHERE, keep[i])
        if match:
            _lift(meta, match)
            drop(i, rule.name)

    # 5. Template lines of the source (navigation, section labels) at the article's edges.
    if repeated:
        for i in repeated_edge_lines(keep, repeated):
            drop(i, "repeated_line")

    # 6. A title line on top, when real paragraphs follow it (on a whole page, the top is
    #    navigation, and a short line there is no title).
    order = sorted(keep)
    if not whole_page and len(order) >= 3 and looks_like_title(keep[order[0]]):
        meta.setdefault("title", keep[order[0]])
        drop(order[0], "title")

    # 7. What the line classifier rejects among the lines no rule named.
    for i in sorted(keep):
        if not classified[i]:
            drop(i, "line_classifier")

    # 8. Metadata read from the first body paragraph, which stays as it is.
    order = sorted(keep)
    if order:
        for rule in by_kind["lift"]:
            match = rule.match(keep[order[0]])
            if match:
                _lift(meta, match)

    # 9. The publication date and the byline from the page's own lines (date lines and bylines
    #    next to where the article's prose starts, month names in the body's language); their
    #    lines leave the body, or are named for what they are if the classifier or the title
    #    step took them. In article-shaped text only lines above the first kept sentence count:
    #    a date line inside an article is part of the story.
    before = "\n\n".join(keep[i] for i in sorted(keep))
    language = detect_language(before)
    top = len(paragraphs) if whole_page else next((i for i in sorted(keep) if is_sentence(keep[i])), len(paragraphs))

    def usable(i: int) -> bool:
        # Not below the text's top in an article, and not a paragraph a rule kept part of.
        return i < top and keep.get(i, paragraphs[i]) == paragraphs[i]

    taken: dict[int, str] = {}
    found = text_dates.find_publication_date(paragraphs, language)
    if found and usable(found[2]):
        day, source, date_index = found
        meta["text_date"], meta["text_date_source"] = day.isoformat(), source
        taken[date_index] = "text_byline" if source == "byline" else "text_date"
    byline = text_dates.find_byline(paragraphs, language, found[2] if found else None)
    if byline and usable(byline[1]):
        meta.setdefault("author", byline[0])
        for i in text_dates.byline_lines(paragraphs, byline[1]):
            if usable(i):
                taken.setdefault(i, "text_byline")
    # 10. On a whole page, the headline: the best-ranked heading-shaped line above the article's
    #     text (`transforms/text_titles.py`), when the ranker scores it high enough; never a date
    #     line, a byline or a line a named rule removed, and not when the input gave a title.
    #     A line the classifier kept as a sentence of the article stays in the body.
    if whole_page and not has_title and "title" not in meta:
        title = text_titles.find_title(paragraphs, found[2] if found else None, frozenset(i for i, r in taken.items() if r == "text_byline"))
        if title and usable(title[1]) and title[1] not in taken:
            i = title[1]
            if i in keep or any(j == i and was == "line_classifier" for j, was, _ in removed):
                meta["title"] = title[0]
                if not (i in keep and is_sentence(keep[i])):
                    taken[i] = "title"
    for i, rule in taken.items():
        if i in keep:
            drop(i, rule)
            continue
        for k, (j, was, line) in enumerate(removed):
            if j == i and was in ("line_classifier", "title"):
                removed[k] = (j, rule, line)
                if was == "title" and rule != "title" and meta.get("title") == line:
                    del meta["title"]  # a date line or a byline is no headline

    body = "\n\n".join(keep[i] for i in sorted(keep))
    ordered = tuple({"rule": rule, "text": line} for _, rule, line in sorted(removed, key=lambda r: r[0]))
    # The language of the text before the date line and byline left: the same, at one detection.
    return CleanResult(body, ordered, meta, language)


def settle_date(candidates: Iterable[tuple[str | None, str]], source_path: str) -> tuple[dt.date | None, str | None]:
    """(date, where it came from): the first of ``candidates`` ((date text, source) pairs, most
    trustworthy first) that parses, else the path's date, else none."""
    for candidate, source in candidates:
        if candidate:
            parsed = parse_date_text(candidate)
            if parsed:
                return parsed, source
    from_path = date_from_path(source_path)
    return (from_path, "path") if from_path else (None, None)


def clean_article(article: Article, rules: Iterable[Rule], repeated: frozenset[int] = frozenset()) -> Article:
    """Clean one article, detect its language and settle its date and metadata.

    Metadata the input format already gave (HTML meta tags, JSONL fields) wins over what the
    text suggests; the text's findings fill the gaps.
    """
    text = article.text or ""
    # trafilatura already chose the main text of an HTML page; the rules still apply to it.
    result = clean_text(text, rules, classify=article.input_format != "html", repeated=repeated, has_title=bool(article.title))
    if not result.body.strip():
        raise ArticleRejected(
            f"no text left after cleaning ({len(result.removed)} lines removed as boilerplate)", errors.NO_TEXT_AFTER_CLEANING
        )
    meta = result.meta
    structured = "html_meta" if article.input_format == "html" else "feed"
    published, source = settle_date(
        [(article.meta_date, structured), (meta.get("date"), "rule"), (meta.get("text_date"), meta.get("text_date_source", "header"))],
        article.source_path,
    )
    return dataclasses.replace(
        article,
        text=None,  # the raw text is not needed downstream; do not carry it through NER
        meta_date=None,
        body=result.body,
        language=result.language,
        removed=result.removed,
        title=article.title or result.meta.get("title"),
        author=article.author or result.meta.get("author"),
        credit=article.credit or result.meta.get("credit"),
        dateline=article.dateline or result.meta.get("dateline"),
        published_date=published,
        date_source=source,
    )


class _CleanFn(beam.DoFn):
    def __init__(self, rules: tuple[Rule, ...]):
        self._rules = rules

    def process(self, article: Article, repeated_by_source: dict[str, frozenset[int]] | None = None) -> Iterator[Any]:
        repeated = (repeated_by_source or {}).get(source_of(article), frozenset())
        yield from run_guarded("clean", article, lambda a: [clean_article(a, self._rules, repeated)])


class CleanArticles(beam.PTransform):
    """Articles with raw text -> cleaned articles (main output) and rejections.

    ``repeated_lines``: optional (source, repeated line keys) PCollection from
    `CountRepeatedLines`, given to the cleaner as a side input.
    """

    def __init__(self, rules: tuple[Rule, ...] | None = None, repeated_lines=None):
        super().__init__()
        self._rules = rules if rules is not None else load_rules()
        self._repeated = repeated_lines

    def expand(self, articles):
        clean = _CleanFn(self._rules)
        if self._repeated is not None:
            step = beam.ParDo(clean, repeated_by_source=beam.pvalue.AsDict(self._repeated))
        else:
            step = beam.ParDo(clean)
        return articles | "CleanText" >> step.with_outputs(REJECTED, main="articles")
