"""Quality as numbers: ``python -m pipeline.evaluate cleaning DIR`` and ``... topics FILE``.

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

from transforms.package_data import rules_file

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


def mean_prf(rows: Iterable[tuple[float, float, float]]) -> dict[str, float]:
    rows = list(rows)
    n = len(rows) or 1
    return {k: sum(r[i] for r in rows) / n for i, k in enumerate(("precision", "recall", "f1"))} | {"pages": len(rows)}


def page_ids(cleaning_dir: str) -> list[str]:
    return sorted(f[: -len(".gold.txt")] for f in os.listdir(cleaning_dir) if f.endswith(".gold.txt"))


def clean_file(path: str) -> str:
    """The body the pipeline produces for one input file ('' when it rejects the file)."""
    from transforms.clean import clean_article, load_rules
    from transforms.errors import ArticleRejected
    from transforms.read import read_records

    rules = _cached(load_rules)
    try:
        (article,) = [a for a in read_records(path, max_bytes=50_000_000) if hasattr(a, "text")]
        return clean_article(article, rules).body or ""
    except (ArticleRejected, ValueError):
        return ""


_CACHE: dict[Callable, object] = {}


def _cached(fn: Callable):
    if fn not in _CACHE:
        _CACHE[fn] = fn()
    return _CACHE[fn]


def evaluate_cleaning(cleaning_dir: str, html_dir: str | None = None, clean: Callable[[str], str] = clean_file) -> dict:
    """Scores of the pipeline and of no cleaning on every page of a development set."""
    system, baseline = [], []
    for page in page_ids(cleaning_dir):
        gold = _read(os.path.join(cleaning_dir, f"{page}.gold.txt"))
        page_input = os.path.join(cleaning_dir, f"{page}.input.txt")
        source = os.path.join(html_dir, f"{page}.html.gz") if html_dir else page_input
        system.append(token_prf(gold, clean(source)))
        baseline.append(token_prf(gold, _read(page_input)))
    return {"system": mean_prf(system), "baseline": mean_prf(baseline)}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.evaluate", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    cleaning = sub.add_parser("cleaning", help="token P/R/F1 of cleaned pages against gold bodies")
    cleaning.add_argument("dir", help="folder of <id>.input.txt and <id>.gold.txt")
    cleaning.add_argument("--html", metavar="DIR", help="score the same pages from <id>.html.gz in DIR instead")
    topics = sub.add_parser("topics", help="accuracy and macro-F1 of topics on labelled JSON lines")
    topics.add_argument("file", help='JSON lines {"text": ..., "label": ...}')
    topics.add_argument("--label_map", help="YAML {labels: {label: [slug, ...]}}; default: the AG News map")
    topics.add_argument("--topic_model", default="embeddings", help="as the pipeline's --topic_model")
    topics.add_argument("--topics", help="taxonomy YAML, as the pipeline's --topics")
    args = parser.parse_args(argv)

    if args.what == "cleaning":
        scores = evaluate_cleaning(args.dir, args.html)
        print(f"{'':<12} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6}   (word tokens, page mean)")
        for name in ("baseline", "system"):
            s = scores[name]
            label = "no cleaning" if name == "baseline" else ("pipeline/html" if args.html else "pipeline")
            print(f"{label:<12} {s['pages']:>5} {s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f}")
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
