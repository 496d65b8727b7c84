"""Train + cross-validate the plain-text headline ranker; write transforms/models/title_model.json.

    pip install -e .[train]
    python training/train_title_ranker.py            # CV figures (5 x 5 folds grouped by site) + the model (under a minute)
    python training/train_title_ranker.py --no-final # CV figures only

Data, from `tests/data/eval/`: `fundus/` (258 pages of 181 publishers in 27 languages; the gold
is each page's meta.json title) and `cleaning/` (181 mostly English pages of 126 sites; no gold
title, so the page's HTML `<title>` in `cleaning_html/` stands in: a candidate is right when it
is that `<title>` or one side of a separator in it, a site's name of at most 6 words after it or
a section of at most 3 before it cut; `title_labels.py`). Whole pages only, cleaned as the
pipeline cleans them, so each candidate (`transforms.text_titles.candidates`) sees the date line
and byline the cleaner found. Model: scikit-learn's HistGradientBoostingClassifier, exported as
flat tree arrays that `transforms/trees.py` reads with numpy (checked here against scikit-learn's
own probabilities). Folds: grouped by site (fundus's publisher, or the URL's host mapped to the
publisher that uses it), so a site's pages never straddle train and test, even across the two
sets, repeated over 5 shuffles (the figures are means), printed per set. The decision threshold is the one with the most right minus wrong answers on `fundus/`'s
out-of-fold scores (a wrong title costs what a right one gains; unsure means no title): the
figures printed at it saw no test fold in the model, only in that one choice.
"""
import argparse
import json
import os
import sys
from collections import Counter

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from title_labels import is_right, page_title, publishers_by_host  # noqa: E402
from tree_export import export  # noqa: E402

from transforms import text_titles  # noqa: E402
from transforms.clean import clean_text, load_rules  # noqa: E402
from transforms.text import fold  # noqa: E402

EVAL = os.path.join(REPO, "tests", "data", "eval")
OUT = os.path.join(REPO, "transforms", "models", "title_model.json")
REPEATS = 5
THRESHOLDS = [round(0.05 * i, 2) for i in range(15)]
PARAMS = dict(max_iter=200, learning_rate=0.05, max_depth=4, min_samples_leaf=40, l2_regularization=1.0, random_state=0)


def token_f1(a, b):
    common = sum((Counter(a.split()) & Counter(b.split())).values())
    return 2 * common / (len(a.split()) + len(b.split())) if common else 0.0


def pages(folder):
    rules = load_rules()
    for name in sorted(f[: -len(".meta.json")] for f in os.listdir(folder) if f.endswith(".meta.json")):
        with open(os.path.join(folder, name + ".meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
        with open(os.path.join(folder, name + ".input.txt"), encoding="utf-8") as f:
            text = f.read()
        # What clean_text hands the ranker, caught at the call: the page's lines, the date
        # line and the byline's lines, exactly as at run time.
        seen: list[tuple] = []
        original = text_titles.find_title
        text_titles.find_title = lambda *args: seen.append(args)
        try:
            clean_text(text, rules)
        finally:
            text_titles.find_title = original
        if seen:  # a whole page (the ranker runs on nothing else) that gave no title otherwise
            lines, date_index, bylines = seen[0]
            yield name, meta, lines, date_index, bylines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="fundus,cleaning", help="development sets to train on (comma-separated)")
    ap.add_argument("--no-final", action="store_true", help="print the cross-validated figures only")
    args = ap.parse_args()
    sets = args.sets.split(",")

    rows, groups, page_of, right, texts, gold, page_set = [], [], [], [], [], [], []
    features = None
    publishers = publishers_by_host(EVAL)
    for name_set in sets:
        folder = os.path.join(EVAL, name_set)
        for name, meta, lines, date_index, bylines in pages(folder):
            title, site, exact = page_title(folder, name, meta, publishers)
            if not fold(title):
                continue  # no gold to learn from (the page still counts, unanswered, in its set)
            k = len(gold)
            gold.append(fold(title))
            page_set.append(name_set)
            for _, text, f in text_titles.candidates(lines, date_index, bylines):
                features = features or sorted(f)
                rows.append([f[q] for q in features])
                groups.append(site)
                page_of.append(k)
                right.append(is_right(text_titles.shown(text), title, exact))
                texts.append(text)
    X, y, groups, page_of = np.array(rows), np.array(right), np.array(groups), np.array(page_of)
    assert np.isfinite(X).all(), "a cue is NaN or infinite: the exported trees send missing values one way only"
    # Fractions of every page of a set: a page that is not a whole page counts as unanswered.
    size = {s: sum(1 for f in os.listdir(os.path.join(EVAL, s)) if f.endswith(".meta.json")) for s in sets}
    for s in sets:
        hit = len({page_of[i] for i in np.flatnonzero(y) if page_set[page_of[i]] == s})
        print(f"{s}: {size[s]} pages; the gold title is a candidate on {hit} ({hit / size[s]:.3f})")

    # Repeated: 5 shuffles of the sites into 5 folds, every figure the mean over the repeats
    # (one split moves the figures by about 0.02).
    table = {s: np.zeros((len(THRESHOLDS), 4)) for s in sets}  # answered, right, wrong, wrong but near the gold
    for repeat in range(REPEATS):
        scores = np.zeros(len(y))
        for train, test in GroupKFold(5, shuffle=True, random_state=repeat).split(X, y, groups):
            scores[test] = HistGradientBoostingClassifier(**PARAMS).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        for k in range(len(gold)):
            idx = np.where(page_of == k)[0]
            if not len(idx):
                continue
            b = idx[np.argmax(scores[idx])]
            near = token_f1(fold(text_titles.shown(texts[b])), gold[k]) >= 0.6
            for t, threshold in enumerate(THRESHOLDS):
                if scores[b] >= threshold:
                    table[page_set[k]][t] += (1, y[b], not y[b], near and not y[b])
    cv = {}
    for s in sets:
        tab, n = table[s] / REPEATS, size[s]
        print(f"{s}: threshold  answered  match  precision   ({REPEATS} x 5 folds grouped by site, means)")
        for threshold, (answered, hit, _, _) in zip(THRESHOLDS, tab):
            print(f"  {threshold:4.2f}     {answered / n:6.3f}  {hit / n:6.3f}  {hit / max(answered, 1):6.3f}")
        cv[s] = tab
    chooser = cv["fundus"] if "fundus" in cv else cv[sets[0]]
    # A wrong title costs what a right one gains: the most right minus wrong answers (the first
    # such threshold when several tie).
    best = int(np.argmax(chooser[:, 1] - chooser[:, 2]))
    threshold = THRESHOLDS[best]
    figures = {}
    for s in sets:
        answered, hit, wrong, near = cv[s][best]
        n = size[s]
        figures[s] = {"pages": n, "answered": round(answered / n, 3), "match": round(hit / n, 3), "precision": round(hit / max(answered, 1), 3)}
        print(f"{s} at threshold {threshold:.2f}: answered {answered / n:.3f}, match {hit / n:.3f}, precision {hit / max(answered, 1):.3f}; "
              f"wrong answers a run {wrong:.1f}, of which {near:.1f} near the gold title (word F1 >= 0.6)")
    print(f"chosen threshold {threshold:.2f}: the most right minus wrong answers on {'fundus' if 'fundus' in cv else sets[0]}")
    if args.no_final:
        return

    model = HistGradientBoostingClassifier(**PARAMS).fit(X, y)
    exported = {"features": features, **export(model, X)}  # checked against scikit-learn on X
    exported["decision_threshold"] = round(float(threshold), 2)
    exported["cv"] = figures
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(exported, f, separators=(",", ":"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
