"""Gradient-boosted trees exported as flat arrays, scored with numpy (no scikit-learn at run time).

The training scripts (`training/tree_export.py`) write each tree's nodes as rows of a
(trees x nodes) table: the feature a node tests, its threshold, its two children (a leaf points
at itself), the leaf's value and, where training saw missing values, which way NaN goes. All
trees are walked at once, one level a step, over flat indices (numpy's ``take`` on 1-D arrays
is several times faster than fancy indexing on 2-D ones).
"""
from __future__ import annotations

import numpy as np

_KEYS = ("feature", "threshold", "left", "right", "value", "missing_left")


def load(trees: dict, baseline: float) -> dict:
    """The JSON form (lists of lists, as written at training) as flat numpy arrays."""
    feature = np.asarray(trees["feature"], dtype=np.intp)
    count, width = feature.shape
    offset = (np.arange(count, dtype=np.intp) * width)[:, None]  # a tree's first node, flat
    missing = trees.get("missing_left")
    # A node's two children side by side: node n goes to child[2n] (left) or child[2n + 1].
    child = np.stack([np.asarray(trees[side], dtype=np.intp) + offset for side in ("left", "right")], -1)
    return {
        "depth": int(trees["depth"]),
        "feature": feature.ravel(),
        "threshold": np.asarray(trees["threshold"], dtype=np.float64).ravel(),
        "child": child.ravel(),
        "value": np.asarray(trees["value"], dtype=np.float64).ravel(),
        # Where NaN goes: right, unless training sent it left (NaN fails every comparison).
        "missing_right": (np.ones(feature.size, dtype=bool) if missing is None else ~np.asarray(missing, dtype=bool).ravel()),
        "roots": offset.ravel(),
        "baseline": float(baseline),
    }


#: Rows walked at a time: the walk holds a few (rows x trees) index arrays, so a page of
#: thousands of lines would otherwise take tens of megabytes.
CHUNK_ROWS = 512


def predict_proba(model: dict, X: np.ndarray) -> np.ndarray:
    """P(class 1) of each row of X (a binary classifier's log-odds summed over the trees)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if len(X) > CHUNK_ROWS:
        return np.concatenate([predict_proba(model, X[i : i + CHUNK_ROWS]) for i in range(0, len(X), CHUNK_ROWS)])
    n, columns = X.shape
    if n == 0:
        return np.zeros(0)
    node = np.repeat(model["roots"][None, :], n, axis=0)
    row = (np.arange(n, dtype=np.intp) * columns)[:, None]
    flat = X.ravel()
    missing = bool(np.isnan(flat).any())  # most rows have every feature: no NaN steps then
    feature, threshold, child = model["feature"], model["threshold"], model["child"]
    for _ in range(model["depth"]):
        x = flat.take(row + feature.take(node))
        right = x > threshold.take(node)
        if missing:
            right |= np.isnan(x) & model["missing_right"].take(node)
        node = child.take(2 * node + right)
    raw = model["baseline"] + model["value"].take(node).sum(axis=1)
    return 1.0 / (1.0 + np.exp(-raw))
