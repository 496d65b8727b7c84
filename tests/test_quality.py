"""Quality floors on the development sets (copied into tests/data/eval), so quality cannot
silently regress. Raise a floor when a change raises the figure; never lower one quietly."""
from __future__ import annotations

import pytest

from pipeline.evaluate import evaluate_cleaning, evaluate_metadata, evaluate_topics, fold, pipeline_topics, load_label_map, paragraphs_kept, token_prf
from tests.conftest import DATA

EVAL = DATA / "eval"


def test_token_metric_matches_the_dev_scorer():
    assert token_prf("a b c d", "a b x") == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert token_prf("A, b!", "a b") == (1.0, 1.0, 1.0)
    assert token_prf("a", "") == (0.0, 0.0, 0.0)


def test_paragraphs_kept_counts_each_gold_paragraph_once_whole():
    gold = "A long first paragraph of the story, told in full.\n\nShort subhead\n\nThe last one."
    # Case, punctuation and spacing do not matter; a paragraph cut short is not kept.
    assert paragraphs_kept(gold, "a long first paragraph of the  story told in full\n\nshort subhead!") == (2, 3)
    assert paragraphs_kept(gold, "A long first paragraph\n\nThe last one.") == (1, 3)
    # A long paragraph within a longer line counts; a short one only as a line of its own.
    assert paragraphs_kept(gold, "By Jane Doe A long first paragraph of the story, told in full.") == (1, 3)
    assert paragraphs_kept(gold, "Short subhead lines are everywhere in this sentence.") == (0, 3)
    assert paragraphs_kept("subhead", "subheads") == (0, 1)
    assert paragraphs_kept("", "anything") == (0, 0)


def test_cleaning_whole_page_text_floor():
    # The classifier is trained on these pages (and fundus/): in-sample figures, above the
    # cross-validated ones (below), which are what a new site gets.
    scores = evaluate_cleaning(str(EVAL / "cleaning"))
    assert scores["baseline"]["f1"] == pytest.approx(0.645, abs=0.001)
    assert scores["system"]["recall"] >= 0.965
    # 0.94 until 2026-12-01, when the threshold went from 0.30 to 0.20 (recall first: more of
    # the short paragraphs and first lines kept for a few more stray lines; see the next test);
    # 0.948 since readers' comment threads leave (2026-12-01: 0.939 -> 0.951; four blog pages
    # went from 0.11 / 0.34 / 0.41 / 0.92 to 0.95 or more).
    assert scores["system"]["f1"] >= 0.948
    assert scores["system"]["paragraphs_kept"] >= 0.81


def test_line_classifier_cross_validated_by_site_on_both_sets():
    # Recorded by training/train_line_classifier.py in the shipped model: 5 folds grouped by site
    # over cleaning/ and fundus/ (438 pages, 27 languages), decoded at the shipped threshold.
    from transforms.line_classifier import load_model

    cv = load_model()["cv"]["at_shipped_setting"]
    assert cv["F1"] >= 0.915 and cv["R"] >= 0.96
    assert cv["by_language"]["non-English"]["F1"] >= 0.91
    # Each line counted once, as a snippet scorer counts: the body's lines, each page's first
    # body line, and the boilerplate lines kept (0.799 / 0.779 / 0.019 at the threshold 0.30).
    lines = cv["lines_kept"]
    assert lines["body"] >= 0.815 and lines["first"] >= 0.815 and lines["boilerplate"] <= 0.025


@pytest.mark.slow
def test_cleaning_html_floor():
    scores = evaluate_cleaning(str(EVAL / "cleaning"), html_dir=str(EVAL / "cleaning_html"))
    assert scores["system"]["f1"] >= 0.955
    assert scores["system"]["recall"] >= 0.975
    assert scores["system"]["paragraphs_kept"] >= 0.945


@pytest.mark.slow
def test_cleaning_floor_on_many_sites_and_languages():
    # fundus/: 258 pages of 181 publishers in 27 languages.
    scores = evaluate_cleaning(str(EVAL / "fundus"))
    assert scores["baseline"]["f1"] == pytest.approx(0.651, abs=0.001)
    # F1 floors 0.945 / 0.95 / 0.945 / 0.93 until the threshold went to 0.20 (recall first).
    assert scores["system"]["f1"] >= 0.94 and scores["system"]["recall"] >= 0.985
    assert scores["system"]["paragraphs_kept"] >= 0.93
    by_language = scores["by_language"]
    assert by_language["en"]["f1"] >= 0.945 and by_language["de"]["f1"] >= 0.94 and by_language["other"]["f1"] >= 0.925


@pytest.fixture(scope="module")
def fundus_metadata():
    return evaluate_metadata(str(EVAL / "fundus"))


def test_dates_from_plain_text_floor(fundus_metadata):
    dates = fundus_metadata["dates"]
    assert dates["precision"] >= 0.975 and dates["recall"] >= 0.81
    assert fundus_metadata["by_language"]["en"]["dates"]["precision"] >= 0.99
    assert set(fundus_metadata["date_sources"]) <= {"header", "byline", "dateline"}


def test_bylines_from_plain_text_floor(fundus_metadata):
    authors = fundus_metadata["authors"]
    assert authors["precision"] >= 0.96 and authors["recall"] >= 0.58


def test_titles_from_plain_text_floor(fundus_metadata):
    # On the ranker's own training pages; the cross-validated figures are the next test's. (The
    # floors came down from 0.765 / 0.785 when cleaning/ joined the training: a looser fit to
    # fundus/, a better cross-validated figure on both sets; and to 0.755 / 0.765 when the
    # retrained ranker saw the name-line bylines; raised to 0.77 / 0.79 with the regularised,
    # deeper trees of 2026-12-01.)
    titles = fundus_metadata["titles"]
    assert titles["match"] >= 0.77 and titles["precision"] >= 0.79


def test_title_ranker_cross_validated_by_site():
    # Recorded by training/train_title_ranker.py in the shipped model: 5 x 5 folds grouped by site
    # over fundus/ (its own titles) and cleaning/ (the HTML <title> standing in).
    from transforms.text_titles import load_model

    cv = load_model()["cv"]
    assert cv["fundus"]["pages"] == 258 and cv["fundus"]["match"] >= 0.695 and cv["fundus"]["precision"] >= 0.73
    assert cv["cleaning"]["pages"] == 181 and cv["cleaning"]["match"] >= 0.61 and cv["cleaning"]["precision"] >= 0.685


def test_titles_on_cleaning_pages_against_their_html_title():
    # cleaning/ has no gold title; its pages' HTML <title> (the headline, most often with the
    # site's name added) stands in. The ranker trained on these labels: an in-sample floor.
    import gzip
    import html
    import re

    from transforms.clean import clean_text, load_rules

    rules, pages, answered, inside = load_rules(), 0, 0, 0
    for page in sorted((EVAL / "cleaning_html").glob("*.html.gz")):
        with gzip.open(page, "rt", encoding="utf-8", errors="replace") as f:
            head = f.read(200_000)
        found = re.search(r"<title[^>]*>(.*?)</title>", head, re.S | re.I)
        text = (EVAL / "cleaning" / page.name.replace(".html.gz", ".input.txt")).read_text("utf-8")
        title = clean_text(text, rules).meta.get("title")
        pages += 1
        answered += bool(title)
        words = fold(title or "")
        inside += bool(len(words.split()) >= 3 and found and f" {words} " in f" {fold(html.unescape(found.group(1)))} ")
    assert pages == 181
    assert answered >= 0.93 * pages and inside >= 0.68 * pages


def test_metadata_scoring_folds_case_accents_and_punctuation():
    assert fold("Anne-Marie  SLAUGHTER") == fold("anne marie slaughter") == "anne marie slaughter"
    assert fold("Zürich, «Ja»") == "zurich ja"
    assert fold("Eßlinger") == fold("ESSLINGER") and fold("snake_case") == "snake case"
    assert fold("Helikopter\xadlandeplatz") == fold("Helikopterlandeplatz")  # gold titles keep soft hyphens; page text drops them


@pytest.mark.slow
def test_embedding_topics_floor_on_ag_news():
    scores = evaluate_topics(str(EVAL / "topics" / "ag_news_sample.jsonl"), load_label_map(None), pipeline_topics("embeddings"))
    assert scores["system"]["accuracy"] >= 0.82
    assert scores["system"]["macro_f1"] >= 0.835


def test_keyword_topics_floor_on_ag_news():
    scores = evaluate_topics(str(EVAL / "topics" / "ag_news_sample.jsonl"), load_label_map(None), pipeline_topics("keywords"))
    assert scores["baseline_majority"]["accuracy"] == pytest.approx(0.25)
    assert scores["system"]["accuracy"] >= 0.37
    assert scores["system"]["macro_f1"] >= 0.50
