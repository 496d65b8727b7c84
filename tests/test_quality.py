"""Quality floors on the development sets (copied into tests/data/eval), so quality cannot
silently regress. Raise a floor when a change raises the figure; never lower one quietly."""
from __future__ import annotations

import pytest

from pipeline.evaluate import evaluate_cleaning, evaluate_topics, pipeline_topics, load_label_map, token_prf
from tests.conftest import DATA

EVAL = DATA / "eval"


def test_token_metric_matches_the_dev_scorer():
    assert token_prf("a b c d", "a b x") == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert token_prf("A, b!", "a b") == (1.0, 1.0, 1.0)
    assert token_prf("a", "") == (0.0, 0.0, 0.0)


def test_cleaning_whole_page_text_floor():
    scores = evaluate_cleaning(str(EVAL / "cleaning"))
    assert scores["baseline"]["f1"] == pytest.approx(0.645, abs=0.001)
    assert scores["system"]["recall"] >= 0.955
    assert scores["system"]["f1"] >= 0.91


def test_cleaning_html_floor():
    scores = evaluate_cleaning(str(EVAL / "cleaning"), html_dir=str(EVAL / "cleaning_html"))
    assert scores["system"]["f1"] >= 0.955
    assert scores["system"]["recall"] >= 0.975


def test_embedding_topics_floor_on_ag_news():
    scores = evaluate_topics(str(EVAL / "topics" / "ag_news_sample.jsonl"), load_label_map(None), pipeline_topics("embeddings"))
    assert scores["system"]["accuracy"] >= 0.82
    assert scores["system"]["macro_f1"] >= 0.835


def test_keyword_topics_floor_on_ag_news():
    scores = evaluate_topics(str(EVAL / "topics" / "ag_news_sample.jsonl"), load_label_map(None), pipeline_topics("keywords"))
    assert scores["baseline_majority"]["accuracy"] == pytest.approx(0.25)
    assert scores["system"]["accuracy"] >= 0.37
    assert scores["system"]["macro_f1"] >= 0.50
