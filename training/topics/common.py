import gzip
import json
import random
import time
from pathlib import Path

import numpy as np

EVAL = Path(__file__).resolve().parents[2] / "tests" / "data" / "eval" / "topics"
AG = str(EVAL / "ag_news_sample.jsonl")  # evaluation only: never trained on
TRAIN = str(EVAL / "train.jsonl.gz")

SLUGS = ["arts_culture_entertainment", "conflict_war_peace", "crime_law_justice", "disaster_accident",
         "economy_business_finance", "education", "environment", "health", "human_interest", "labour",
         "lifestyle_leisure", "politics", "religion", "science_technology", "society", "sport", "weather"]

HUFF_MAP = {
    "POLITICS": "politics", "ENTERTAINMENT": "arts_culture_entertainment", "COMEDY": "arts_culture_entertainment",
    "CULTURE & ARTS": "arts_culture_entertainment", "MEDIA": "arts_culture_entertainment",
    "CRIME": "crime_law_justice", "SPORTS": "sport", "BUSINESS": "economy_business_finance",
    "MONEY": "economy_business_finance", "TECH": "science_technology", "SCIENCE": "science_technology",
    "ENVIRONMENT": "environment", "WELLNESS": "health", "RELIGION": "religion", "EDUCATION": "education",
    "TRAVEL": "lifestyle_leisure", "FOOD & DRINK": "lifestyle_leisure", "STYLE & BEAUTY": "lifestyle_leisure",
    "HOME & LIVING": "lifestyle_leisure", "WEDDINGS": "lifestyle_leisure", "PARENTING": "society",
    "BLACK VOICES": "society", "QUEER VOICES": "society", "LATINO VOICES": "society", "WOMEN": "society",
    "IMPACT": "society", "WEIRD NEWS": "human_interest",
    # WORLD NEWS / U.S. NEWS: section labels, not subjects -> dropped by default
}

AG_MAP = {"Sports": "sport", "Business": "economy_business_finance", "Sci/Tech": "science_technology"}
WORLD_OK = {"politics", "conflict_war_peace", "disaster_accident", "crime_law_justice"}
AG_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]


def load_ag():
    rows = [json.loads(l) for l in open(AG)]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def load_huff():
    with gzip.open(TRAIN, "rt") as f:
        return [json.loads(l) for l in f]


def collapse(pred):
    if pred in WORLD_OK:
        return "World"
    for k, v in AG_MAP.items():
        if pred == v:
            return k
    return "OTHER"


def ag_scores(preds, gold):
    c = [collapse(p) for p in preds]
    acc = float(np.mean([a == b for a, b in zip(c, gold)]))
    f1s = []
    for k in AG_CLASSES:
        tp = sum(1 for a, b in zip(c, gold) if a == k and b == k)
        fp = sum(1 for a, b in zip(c, gold) if a == k and b != k)
        fn = sum(1 for a, b in zip(c, gold) if a != k and b == k)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return acc, float(np.mean(f1s))


def confusion(preds, gold):
    from collections import Counter
    out = {}
    for k in AG_CLASSES:
        out[k] = Counter(p for p, g in zip(preds, gold) if g == k).most_common(6)
    return out


def long_texts(n=100, words=600, seed=0):
    """~600-word texts: the real sample articles plus HuffPost concatenations."""
    texts = [p.read_text() for p in sorted((Path(__file__).resolve().parents[2] / "samples" / "incoming").glob("*.txt"))]
    huff = [r["text"] for r in load_huff()]
    rnd = random.Random(seed)
    while len(texts) < n:
        buf = []
        while sum(len(t.split()) for t in buf) < words:
            buf.append(rnd.choice(huff))
        texts.append("\n\n".join(buf))
    return texts


def speed(fn, texts, repeat=1):
    fn(texts[:4])  # warm-up
    t = time.perf_counter()
    for _ in range(repeat):
        fn(texts)
    dt = time.perf_counter() - t
    return len(texts) * repeat / dt
