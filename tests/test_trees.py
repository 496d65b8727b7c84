"""Gradient-boosted trees scored from their exported arrays (transforms/trees.py)."""
import math

import numpy as np

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
