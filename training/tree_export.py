"""A fitted scikit-learn HistGradientBoostingClassifier as the flat arrays `transforms/trees.py`
scores with numpy, checked against scikit-learn's own probabilities (training time only)."""
import numpy as np

from transforms import trees


def export(model, X_check=None):
    """{"trees": (trees x nodes) lists, "baseline": float}. ``X_check``: rows the exported
    trees must score as scikit-learn does (NaN included)."""
    if getattr(model, "_preprocessor", None) is not None:
        raise ValueError("categorical features are not exported: their splits are not thresholds")
    nodes_of = [p[0].nodes for p in model._predictors]
    if any(bool(node["is_categorical"]) for nodes in nodes_of for node in nodes if "is_categorical" in nodes.dtype.names):
        raise ValueError("categorical splits are not exported")
    width = max(len(t) for t in nodes_of)
    out = {k: np.zeros((len(nodes_of), width)) for k in ("feature", "threshold", "left", "right", "value", "missing_left")}
    for t, nodes in enumerate(nodes_of):
        for n, node in enumerate(nodes):
            leaf = bool(node["is_leaf"])
            out["feature"][t, n] = 0 if leaf else node["feature_idx"]
            out["threshold"][t, n] = 0.0 if leaf else node["num_threshold"]
            out["left"][t, n] = n if leaf else node["left"]
            out["right"][t, n] = n if leaf else node["right"]
            out["value"][t, n] = node["value"] if leaf else 0.0
            out["missing_left"][t, n] = 0 if leaf else node["missing_go_to_left"]
        for n in range(len(nodes), width):  # padding: leaves of value 0 no walk reaches
            out["left"][t, n] = out["right"][t, n] = n
    depth = int(max(node["depth"] for nodes in nodes_of for node in nodes))
    as_int = ("feature", "left", "right", "missing_left")
    exported = {
        "trees": {"depth": depth, **{k: (v.astype(int) if k in as_int else v).tolist() for k, v in out.items()}},
        "baseline": float(np.ravel(model._baseline_prediction)[0]),
    }
    if X_check is not None:
        mine = trees.predict_proba(trees.load(exported["trees"], exported["baseline"]), X_check)
        if not np.allclose(mine, model.predict_proba(X_check)[:, 1], atol=1e-9):
            raise ValueError("exported trees disagree with scikit-learn")
    return exported
