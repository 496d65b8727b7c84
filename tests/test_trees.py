"""Gradient-boosted trees scored from their exported arrays (transforms/trees.py)."""
import math

import numpy as np
import pytest

from transforms import trees

# Two trees over two features; leaves point at themselves, as the exported models do.
TREES = {
    "depth": 2,
    "feature": [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]],
    "threshold": [[0.5, 2.0, 0, 0, 0], [1.0, 0, 0, 0, 0]],
    "left": [[1, 3, 2, 3, 4], [1, 1, 2, 3, 4]],
    "right": [[2, 4, 2, 3, 4], [2, 1, 2, 3, 4]],
    "value": [[0, 0, 0.5, 1.0, -1.0], [0, -0.25, 0.75, 0, 0]],
}


def sigmoid(raw):
    return 1 / (1 + np.exp(-np.asarray(raw)))


def test_every_tree_is_read_to_its_leaf():
    model = trees.load(TREES, baseline=-1.0)
    X = np.array([[0.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    raw = [-1.0 + 1.0 - 0.25, -1.0 - 1.0 + 0.75, -1.0 + 0.5 - 0.25]
    assert np.allclose(trees.predict_proba(model, X), sigmoid(raw))


def test_a_missing_value_goes_where_training_sent_it():
    # Without the table NaN fails every "<=" and goes right; with it, where each node says.
    X = np.array([[math.nan, 1.0]])
    right = trees.load(TREES, baseline=0.0)
    assert np.allclose(trees.predict_proba(right, X), sigmoid([0.5 - 0.25]))
    missing_left = {**TREES, "missing_left": [[True, False, False, False, False], [False, False, False, False, False]]}
    left = trees.load(missing_left, baseline=0.0)
    assert np.allclose(trees.predict_proba(left, X), sigmoid([1.0 - 0.25]))


def test_no_rows_no_scores():
    assert trees.predict_proba(trees.load(TREES, 0.0), np.zeros((0, 2))).shape == (0,)


def test_many_rows_are_walked_in_chunks_with_the_same_result():
    model = trees.load(TREES, baseline=-1.0)
    X = np.random.default_rng(0).normal(size=(3 * trees.CHUNK_ROWS + 7, 2))
    whole = np.concatenate([trees.predict_proba(model, X[i : i + 100]) for i in range(0, len(X), 100)])
    assert np.array_equal(trees.predict_proba(model, X), whole)


def test_the_shipped_line_model_s_trees_route_missing_features_as_exported():
    # The refining trees see undefined features (NaN: stop words without a stop list, case in a
    # caseless script); walk the model file's own arrays node by node and compare.
    import json

    from transforms.line_classifier import MODEL_PATH, classify_lines, load_model
    from transforms.line_features import page_features

    with open(MODEL_PATH, encoding="utf-8") as f:
        refine = json.load(f)["refine"]
    t = refine["trees"]

    def walk(x):
        raw = refine["baseline"]
        for k in range(len(t["feature"])):
            n = 0
            while t["left"][k][n] != n:
                v = x[t["feature"][k][n]]
                go_left = bool(t["missing_left"][k][n]) if math.isnan(v) else v <= t["threshold"][k][n]
                n = t["left"][k][n] if go_left else t["right"][k][n]
            raw += t["value"][k][n]
        return 1 / (1 + math.exp(-raw))

    lines = ["首页", "新闻", "体育", "城市交通建设取得新进展"] + [
        "市政府表示，新的公交线路将在明年春天开通，覆盖北部的多个居民区，方便市民出行。" * k for k in (1, 2, 3)
    ] + ["关于我们", "联系我们", "版权所有"] * 3
    X = page_features(lines)
    assert np.isnan(X).any()
    model = {k: v for k, v in load_model().items() if k != "refine"}
    plain = np.array(classify_lines(lines, model=model))
    lo, hi = refine["band"]
    probs = classify_lines(lines)
    for i, p in enumerate(plain):
        expected = walk(X[i]) if lo < p < hi else p
        assert probs[i] == pytest.approx(expected, abs=1e-9)
