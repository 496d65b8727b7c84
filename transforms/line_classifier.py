"""Learned boilerplate line classifier for whole-page news text: which lines are the article.

Trained by ``training/train_line_classifier.py`` on the development pages (boilerpipe's idea:
shallow features of each line and its neighbours (`transforms/line_features.py`), a logistic
regression, gradient-boosted trees for the lines it is unsure of, an optional two-state Viterbi
smoothing); cross-validated figures are in the model file's ``cv`` entry and in docs/cleaning.md.

    from transforms.line_classifier import clean_page, classify_lines
    body = clean_page(page_text)                   # stop-list language guessed from the page
    probs = classify_lines(lines, language="en")   # P(line belongs to the article body)

Any language and script: lengths are counted in word- and character-equivalents, sentence ends
include 。！？ ؟ । etc., and what a script or language cannot have (case in Arabic, Hindi, CJK;
stop words without a stop list) is left undefined (NaN) and read as the training mean.

Model file: ``models/line_model.json``: feature standardisation + logistic regression weights
(1 stage shipped; an optional 2nd stage sees the neighbours' stage-1 probabilities), the
refining trees for the lines the logistic stage is unsure of (``refine``: its band and the
trees, `transforms/trees.py`), the decision threshold, the Viterbi switch penalty and the
page-shape gate.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np

from transforms import trees
from transforms.line_features import DENSE_SCRIPT, page_features, stage2_features, word_equivalents
from transforms.package_data import model_file

MODEL_PATH = str(model_file("line_model.json"))


@lru_cache(maxsize=1)
def load_model(path: str = MODEL_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        model = json.load(f)
    for stage in model["stages"]:
        for key in ("mean", "scale", "coef"):
            stage[key] = np.asarray(stage[key], dtype=np.float64)
    if "refine" in model:
        model["refine"]["walk"] = trees.load(model["refine"].pop("trees"), model["refine"]["baseline"])
    return model



def logistic(stage: dict, X: np.ndarray) -> np.ndarray:
    X = np.where(np.isnan(X), stage["mean"], X)  # undefined features: the training mean (no evidence)
    z = ((X - stage["mean"]) / stage["scale"]) @ stage["coef"] + stage["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


def classify_lines(lines: list[str], language: str | None = "auto", model: dict | None = None) -> list[float]:
    """Probability that each line belongs to the article body. `lines` are non-empty, stripped."""
    if not lines:
        return []
    model = model or load_model()
    features = page_features(lines, language)
    probs = logistic(model["stages"][0], features)
    if len(model["stages"]) > 1:
        probs = logistic(model["stages"][1], np.concatenate([features, stage2_features(probs, features)], 1))
    refine = model.get("refine")
    if refine:
        # The lines the logistic model is unsure of (about one in twelve), scored again by
        # gradient-boosted trees, which weigh what goes together (a short line deep in the
        # prose, a long one among menus); the trees cost too much to score every line.
        lo, hi = refine["band"]
        unsure = (probs > lo) & (probs < hi)
        if unsure.any():
            probs[unsure] = trees.predict_proba(refine["walk"], features[unsure])
    return probs.tolist()


def decode(p, threshold: float, switch_penalty: float = 0.0) -> list[bool]:
    """Keep/drop per line. switch_penalty > 0: two-state Viterbi (body / boilerplate) whose
    emission score is the log-odds of p against the threshold and whose every switch between
    states costs switch_penalty, so isolated dips/spikes are smoothed. Never returns all-False
    for a non-empty page: then the lines with p >= 0.7 * max(p) are kept."""
    n = len(p)
    if n == 0:
        return []
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    if switch_penalty <= 0:
        keep = [q >= t for q in p]
    else:
        q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
        los = (np.log(q / (1 - q)) - math.log(t / (1 - t))).tolist()
        sw = switch_penalty
        s0, s1 = 0.0, 0.0
        back0 = bytearray(n)
        back1 = bytearray(n)
        for i, lo in enumerate(los):
            if i == 0:
                s0, s1 = 0.0, lo
                continue
            b0 = s1 - sw > s0          # best predecessor of state 0 is state 1?
            b1 = s1 >= s0 - sw         # best predecessor of state 1 is state 1?
            n0 = s1 - sw if b0 else s0
            n1 = (s1 if b1 else s0 - sw) + lo
            back0[i], back1[i] = b0, b1
            s0, s1 = n0, n1
        st = 1 if s1 > s0 else 0
        keep = [False] * n
        for i in range(n - 1, -1, -1):
            keep[i] = st == 1
            st = (back1[i] if st == 1 else back0[i]) if i > 0 else st
    if not any(keep):
        mx = max(p)
        keep = [q >= 0.7 * mx for q in p]
    return keep


def looks_like_page(lines: list[str], model: dict | None = None) -> bool:
    """Gate: True when the text looks like a whole scraped page (menus, widgets ...) rather
    than an already-clean article, which is mostly long prose paragraphs: at least
    `min_lines` lines and at least `min_short_share` of them under 8 words (word-equivalents:
    a Chinese, Japanese or Thai paragraph is not one "word")."""
    gate = (model or load_model()).get("gate", {"min_short_share": 0.3, "min_lines": 12})
    if len(lines) < gate["min_lines"]:
        return False
    if DENSE_SCRIPT.search("\n".join(lines)):
        short = sum(1 for l in lines if word_equivalents(l) < 8)
    else:
        short = sum(len(l.split(None, 7)) < 8 for l in lines)  # (a long line is not split to its end)
    return short / len(lines) >= gate["min_short_share"]



def trim_ends(p, threshold: float) -> list[bool]:
    """Article mode: drop only the leading and trailing runs of lines below the threshold
    (title/byline on top, share/related/newsletter widgets at the end); interior lines
    (short sentences, subheadings) are always kept."""
    n = len(p)
    a = 0
    while a < n and p[a] < threshold:
        a += 1
    b = n
    while b > a and p[b - 1] < threshold:
        b -= 1
    if a >= b:  # nothing confident: keep everything rather than nothing
        return [True] * n
    return [a <= i < b for i in range(n)]


def split_lines(text: str) -> list[str]:
    return [l.strip() for l in text.split("\n") if l.strip()]


def clean_lines(lines: list[str], language: str | None = "auto", mode: str = "auto",
                threshold: float | None = None) -> list[bool]:
    """Keep/drop decision per (non-empty, stripped) line.

    mode="page": the classifier + smoothing decides every line (whole scraped pages).
    mode="article": only leading/trailing low-probability runs are dropped (clean articles).
    mode="auto": "page" when looks_like_page(lines), else "article".
    """
    if not lines:
        return []
    model = load_model()
    probs = classify_lines(lines, language, model)
    cut = model["threshold"] if threshold is None else threshold
    if mode == "auto":
        mode = "page" if looks_like_page(lines, model) else "article"
    if mode == "page":
        return decode(probs, cut, model.get("switch_penalty", 0.0))
    return trim_ends(probs, cut)


def clean_page(text: str, language: str | None = "auto", mode: str = "auto",
               threshold: float | None = None) -> str:
    """Article body of a page text (kept lines joined by blank lines). See clean_lines."""
    lines = split_lines(text)
    keep = clean_lines(lines, language, mode, threshold)
    return "\n\n".join(l for l, k in zip(lines, keep) if k)

