"""Quality as numbers: ``python -m pipeline.evaluate cleaning DIR``, ``... metadata DIR`` and ``... topics FILE``.

Cleaning is scored like the development set's ``score_cleaning.py`` (after the
article-extraction-benchmark): lowercase ``\\w+`` tokens, bag overlap with the gold body,
precision/recall/F1 per page, averaged over pages, next to the no-cleaning baseline. Pages are
read and cleaned by the pipeline's own functions (`read_records`, `clean_article`), so the
figures are the pipeline's. Topics are scored as accuracy and macro-F1 after mapping the
evaluation set's labels to the taxonomy (a mapping file), next to the majority baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from typing import Callable, Iterable

import yaml

from transforms.errors import UsageError
from transforms.package_data import rules_file
from transforms.text import fold

TOKEN = re.compile(r"\w+", re.UNICODE)


def token_prf(gold: str, predicted: str) -> tuple[float, float, float]:
    """Bag-of-tokens precision, recall and F1 of one page (score_cleaning.py's metric)."""
    g, p = Counter(TOKEN.findall(gold.lower())), Counter(TOKEN.findall(predicted.lower()))
    if not g and not p:
        return 1.0, 1.0, 1.0
    if not p or not g:
        return 0.0, 0.0, 0.0
    tp = sum((g & p).values())
    precision, recall = tp / sum(p.values()), tp / sum(g.values())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def paragraphs_kept(gold: str, predicted: str) -> tuple[int, int]:
    """(gold paragraphs kept whole, gold paragraphs): each paragraph counts once, however short,
    as a snippet scorer counts the snippets it must find (the token metric hardly sees a dropped
    subheading or one-sentence paragraph). Compared as word tokens: a paragraph of 8 words or
    more is kept when it stands within one line of the prediction; a shorter one only as a line
    of its own (a subheading's words turn up inside other lines by chance)."""
    def words(text: str) -> str:
        return " ".join(TOKEN.findall(text.lower()))

    lines = [w for w in map(words, predicted.split("\n")) if w]
    whole, padded = set(lines), [f" {w} " for w in lines]
    paragraphs = [w for w in map(words, gold.split("\n")) if w]

    def kept(w: str) -> bool:
        if len(w.split()) < 8:
            return w in whole
        return any(f" {w} " in line for line in padded)

    return sum(map(kept, paragraphs)), len(paragraphs)


def mean_prf(rows: Iterable[tuple[float, float, float]]) -> dict[str, float]:
    rows = list(rows)
    n = len(rows) or 1
    return {k: sum(r[i] for r in rows) / n for i, k in enumerate(("precision", "recall", "f1"))} | {"pages": len(rows)}


def page_ids(cleaning_dir: str) -> list[str]:
    return sorted(f[: -len(".gold.txt")] for f in os.listdir(cleaning_dir) if f.endswith(".gold.txt"))


def clean_page(path: str):
    """The `Article` the pipeline makes of one input file, or None when it rejects the file."""
    from transforms.clean import clean_article, load_rules
    from transforms.errors import ArticleRejected
    from transforms.read import read_records

    rules = _cached(load_rules)
    try:
        (article,) = [a for a in read_records(path, max_bytes=50_000_000) if hasattr(a, "text")]
        return clean_article(article, rules)
    except (ArticleRejected, ValueError):
        return None


def clean_file(path: str) -> str:
    """The body the pipeline produces for one input file ('' when it rejects the file)."""
    article = clean_page(path)
    return (article.body or "") if article is not None else ""


_CACHE: dict[Callable, object] = {}


def _cached(fn: Callable):
    if fn not in _CACHE:
        _CACHE[fn] = fn()
    return _CACHE[fn]


def page_language(cleaning_dir: str, page: str) -> str | None:
    """``en``, ``de`` or ``other`` from the page's meta.json; None when it gives no language."""
    language = _meta(cleaning_dir, page).get("language")
    if language is None:
        return None
    return language if language in ("en", "de") else "other"


def _meta(folder: str, page: str) -> dict:
    path = os.path.join(folder, f"{page}.meta.json")
    return json.loads(_read(path)) if os.path.exists(path) else {}


def evaluate_cleaning(cleaning_dir: str, html_dir: str | None = None, clean: Callable[[str], str] = clean_file) -> dict:
    """Scores of the pipeline and of no cleaning on every page of a development set, overall and
    per language (``by_language``: en, de, other; only for sets whose meta.json give it)."""
    system, baseline, languages = [], [], []
    kept = {"system": [0, 0], "baseline": [0, 0]}
    for page in page_ids(cleaning_dir):
        gold = _read(os.path.join(cleaning_dir, f"{page}.gold.txt"))
        page_input = os.path.join(cleaning_dir, f"{page}.input.txt")
        source = os.path.join(html_dir, f"{page}.html.gz") if html_dir else page_input
        body, raw = clean(source), _read(page_input)
        system.append(token_prf(gold, body))
        baseline.append(token_prf(gold, raw))
        for name, text in (("system", body), ("baseline", raw)):
            found, total = paragraphs_kept(gold, text)
            kept[name][0] += found
            kept[name][1] += total
        languages.append(page_language(cleaning_dir, page))
    by_language = {
        lang: mean_prf(s for s, got in zip(system, languages) if got == lang) for lang in ("en", "de", "other") if lang in languages
    }
    share = {name: found / total if total else 0.0 for name, (found, total) in kept.items()}
    return {"system": mean_prf(system) | {"paragraphs_kept": share["system"]},
            "baseline": mean_prf(baseline) | {"paragraphs_kept": share["baseline"]}, "by_language": by_language}


def evaluate_metadata(folder: str, clean: Callable[[str], object] = clean_page) -> dict:
    """Dates, authors and titles the pipeline lifts from plain-text pages against the gold in each
    page's meta.json (``publishing_date``, ``authors``, ``title``), per language too.

    Dates at day level: precision = right / answered, recall = right / pages, coverage = answered /
    pages; a date taken from the file's path does not count (the set's file names hold dates).
    Authors: names (folded) against the gold names. Titles: folded title equal to the gold's.
    """
    pages = [p for p in page_ids(folder) if _meta(folder, p).get("publishing_date") is not None]
    rows = []
    for page in pages:
        meta = _meta(folder, page)
        article = clean(os.path.join(folder, f"{page}.input.txt"))
        day = getattr(article, "published_date", None)
        source = getattr(article, "date_source", None)
        answered = day is not None and source != "path"
        gold_names = {fold(a) for a in meta.get("authors") or [] if fold(a)}
        names = {fold(n) for n in (getattr(article, "author", None) or "").split(",") if fold(n)}
        title = fold(getattr(article, "title", None) or "")
        rows.append({
            "language": meta.get("language") if meta.get("language") in ("en", "de") else "other",
            "answered": answered,
            "right": answered and str(day) == meta["publishing_date"][:10],
            "source": source if answered else None,
            "names_out": len(names), "names_right": len(names & gold_names), "names_gold": len(gold_names),
            "title_right": bool(title) and title == fold(meta.get("title") or ""),
            "title_answered": bool(title),
        })

    def figures(sel: list[dict]) -> dict:
        n, answered, right = len(sel), sum(r["answered"] for r in sel), sum(r["right"] for r in sel)
        out, hit, gold = (sum(r[k] for r in sel) for k in ("names_out", "names_right", "names_gold"))
        return {
            "pages": n,
            "dates": {"precision": right / answered if answered else 0.0, "recall": right / n if n else 0.0, "coverage": answered / n if n else 0.0},
            "authors": {"precision": hit / out if out else 0.0, "recall": hit / gold if gold else 0.0},
            "titles": {
                "match": sum(r["title_right"] for r in sel) / n if n else 0.0,
                "answered": sum(r["title_answered"] for r in sel) / n if n else 0.0,
                "precision": sum(r["title_right"] for r in sel) / max(1, sum(r["title_answered"] for r in sel)),
            },
        }

    result = figures(rows)
    result["by_language"] = {lang: figures([r for r in rows if r["language"] == lang]) for lang in ("en", "de", "other")}
    result["date_sources"] = dict(Counter(r["source"] for r in rows if r["source"]).most_common())
    return result


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def load_label_map(path: str | None, name: str = "ag_news.yaml") -> dict[str, list[str]]:
    """Evaluation label -> the taxonomy slugs that count as correct for it."""
    if path is None:
        text = rules_file("label_maps", name).read_text("utf-8")
    else:
        text = _read(path)
    return {str(k): [v] if isinstance(v, str) else list(v) for k, v in yaml.safe_load(text)["labels"].items()}


def evaluate_topics(path: str, label_map: dict[str, list[str]], classify: Callable[[list[str]], list[str]]) -> dict:
    """Accuracy and macro-F1 over the evaluation labels, plus the majority-class baseline."""
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    predicted = classify([r["text"] for r in records])
    gold = [r["label"] for r in records]
    # A prediction counts as the evaluation label whose slugs contain it.
    slug_to_label = {slug: label for label, slugs in label_map.items() for slug in slugs}
    mapped = [slug_to_label.get(p, f"<{p}>") for p in predicted]
    majority = Counter(gold).most_common(1)[0][0]
    return {
        "items": len(records),
        "system": _accuracy_macro_f1(gold, mapped),
        "baseline_majority": _accuracy_macro_f1(gold, [majority] * len(gold)),
        "predicted_topics": dict(Counter(predicted).most_common()),
    }


def _accuracy_macro_f1(gold: list[str], predicted: list[str]) -> dict[str, float]:
    labels = sorted(set(gold))
    f1s = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    accuracy = sum(1 for g, p in zip(gold, predicted) if g == p) / (len(gold) or 1)
    return {"accuracy": accuracy, "macro_f1": sum(f1s) / len(f1s)}


def pipeline_topics(model: str = "keywords", taxonomy_path: str | None = None) -> Callable[[list[str]], list[str]]:
    """The pipeline's topic step as a function of texts (first line = title, rest = body)."""
    from schemas.article import Article
    from transforms.topics import load_taxonomy, load_topic_model

    topic_model = load_topic_model(model, load_taxonomy(taxonomy_path))

    def classify(texts: list[str]) -> list[str]:
        articles = []
        for i, text in enumerate(texts):
            title, _, body = text.partition("\n")
            articles.append(Article(f"eval:{i}", len(text), "", title=title or None, body=body or title))
        return [r.topic for r in topic_model.classify_batch(articles)]

    return classify


def _check_inputs(args: argparse.Namespace) -> None:
    """A one-line `UsageError` for a folder or file the command cannot score, before any work."""
    if args.what in ("cleaning", "metadata"):
        suffix = ".gold.txt" if args.what == "cleaning" else ".meta.json"
        if not os.path.isdir(args.dir):
            raise UsageError(f"{args.dir}: not a folder (give a folder of <id>.input.txt and <id>{suffix})")
        if not any(name.endswith(suffix) for name in os.listdir(args.dir)):
            raise UsageError(f"{args.dir}: no <id>{suffix} in it: nothing to score")
        if getattr(args, "html", None) and not os.path.isdir(args.html):
            raise UsageError(f"--html {args.html}: not a folder (give a folder of <id>.html.gz)")
        return
    if not os.path.isfile(args.file):
        raise UsageError(f"{args.file}: not a file (give JSON lines {{\"text\": ..., \"label\": ...}})")
    try:
        with open(args.file, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    record = json.loads(line)
                    if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "label" not in record:
                        raise UsageError(f"{args.file}, line {number}: expected {{\"text\": \"...\", \"label\": ...}}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{args.file}: not UTF-8 JSON lines ({exc})") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.evaluate", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    cleaning = sub.add_parser("cleaning", help="token P/R/F1 of cleaned pages against gold bodies")
    cleaning.add_argument("dir", help="folder of <id>.input.txt and <id>.gold.txt")
    cleaning.add_argument("--html", metavar="DIR", help="score the same pages from <id>.html.gz in DIR instead")
    metadata = sub.add_parser("metadata", help="dates, authors and titles from plain-text pages against meta.json gold")
    metadata.add_argument("dir", help="folder of <id>.input.txt and <id>.meta.json (publishing_date, authors, title)")
    topics = sub.add_parser("topics", help="accuracy and macro-F1 of topics on labelled JSON lines")
    topics.add_argument("file", help='JSON lines {"text": ..., "label": ...}')
    topics.add_argument("--label_map", help="YAML {labels: {label: [slug, ...]}}; default: the AG News map")
    topics.add_argument("--topic_model", default="embeddings", help="as the pipeline's --topic_model")
    topics.add_argument("--topics", help="taxonomy YAML, as the pipeline's --topics")
    args = parser.parse_args(argv)
    try:
        _check_inputs(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.what == "cleaning":
        scores = evaluate_cleaning(args.dir, args.html)
        print(f"{'':<14} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6}   (word tokens, page mean)")
        rows = [("no cleaning", scores["baseline"]), ("pipeline/html" if args.html else "pipeline", scores["system"])]
        if len(scores["by_language"]) > 1:
            rows += [(f"  {lang}", s) for lang, s in scores["by_language"].items()]
        for label, s in rows:
            print(f"{label:<14} {s['pages']:>5} {s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f}")
        print(f"gold paragraphs kept whole (each counted once, pooled): {scores['system']['paragraphs_kept']:.3f} "
              f"(no cleaning {scores['baseline']['paragraphs_kept']:.3f})")
    elif args.what == "metadata":
        scores = evaluate_metadata(args.dir)
        print(f"{'':<8} {'pages':>5}   {'dates: P':>8} {'R':>6} {'cover':>6}   {'authors: P':>10} {'R':>6}   {'titles: match':>13} {'answered':>8} {'P':>6}")
        for label, s in [("all", scores)] + list(scores["by_language"].items()):
            d, a, t = s["dates"], s["authors"], s["titles"]
            print(f"{label:<8} {s['pages']:>5}   {d['precision']:>8.3f} {d['recall']:>6.3f} {d['coverage']:>6.3f}   "
                  f"{a['precision']:>10.3f} {a['recall']:>6.3f}   {t['match']:>13.3f} {t['answered']:>8.3f} {t['precision']:>6.3f}")
        print("date sources:", scores["date_sources"])
    else:
        scores = evaluate_topics(args.file, load_label_map(args.label_map), pipeline_topics(args.topic_model, args.topics))
        print(f"{'':<18} {'items':>5} {'accuracy':>9} {'macro-F1':>9}")
        for name, label in (("baseline_majority", "majority class"), ("system", "pipeline")):
            s = scores[name]
            print(f"{label:<18} {scores['items']:>5} {s['accuracy']:>9.3f} {s['macro_f1']:>9.3f}")
        print("predicted topics:", scores["predicted_topics"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
