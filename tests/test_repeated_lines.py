"""Lines a source repeats across its articles: the counts, the edge rule, and the two-pass DAG."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from schemas.article import Article
from tests.conftest import test_pipeline
from transforms.clean import CleanArticles, clean_text, load_rules
from transforms.formats import JsonlFields
from transforms.match import MatchFiles
from transforms.read import ReadArticles
from transforms.repeated_lines import CountRepeatedLines, RepeatedLinesFn, line_key, source_of

NAV = "Home | World | Business | Sport"
SECTION = "WORLD NEWS"
FOOTER = "Daily Courier Media Group"


def _page(title: str, paragraphs: list[str]) -> str:
    return "\n\n".join([NAV, SECTION, title, *paragraphs, FOOTER])


STORIES = [
    ("Floods close the northern railway", ["Heavy rain closed the line on Monday.", "Repairs will take a week."]),
    ("Council approves the new budget", ["The vote was seven to two.", "Background", "Taxes stay the same."]),
    ("Harbour strike enters third day", ["Dock workers want higher pay.", "Talks resume on Friday."]),
    ("Museum reopens after renovation", ["Visitors queued from dawn.", "Entry is free this month."]),
]


def test_line_key_ignores_case_and_spacing_and_skips_paragraphs():
    assert line_key("Home |  World") == line_key("home | world") is not None
    assert line_key("") is None
    assert line_key(" ".join(["word"] * 41)) is None


def test_source_is_the_host_else_the_feed_else_the_folder():
    def article(**kw):
        return Article(source_bytes=1, content_sha256="0" * 64, **kw)

    assert source_of(article(source_path="s3://b/x/1.html", url="https://www.example.com/a")) == "example.com"
    assert source_of(article(source_path="s3://b/feed.jsonl", source_line=3)) == "s3://b/feed.jsonl"
    assert source_of(article(source_path="s3://b/day/1.txt")) == "s3://b/day"


def test_counts_keep_lines_in_enough_articles_and_merge():
    fn = RepeatedLinesFn(min_articles=3, min_share=0.5)
    a = fn.create_accumulator()
    for keys in ({1, 2}, {1, 3}):
        a = fn.add_input(a, keys)
    b = fn.add_input(fn.create_accumulator(), {1, 2})
    merged = fn.merge_accumulators([a, b])
    assert fn.extract_output(merged) == frozenset({1})  # 1 is in 3 of 3; 2 in only 2
    four = fn.add_input(merged, {2})
    assert fn.extract_output(four) == frozenset({1, 2})  # each in 3 of 4 articles
    assert RepeatedLinesFn(min_articles=1, min_share=0.8).extract_output(four) == frozenset()  # 3/4 < 0.8


def test_bounded_summary_keeps_a_template_line_among_many_unique_lines():
    fn = RepeatedLinesFn(min_articles=3, min_share=0.0, capacity=50)
    acc = fn.create_accumulator()
    for article in range(200):
        acc = fn.add_input(acc, {0, *range(1000 + article * 30, 1000 + article * 30 + 30)})
    assert len(acc[1]) <= 100  # bounded, whatever the corpus (6,000 distinct lines here)
    assert fn.extract_output(acc) == frozenset({0})


def test_edge_template_lines_go_and_the_article_stays():
    repeated = frozenset(line_key(line) for line in (NAV, SECTION, FOOTER, "Background"))
    text = _page(*STORIES[1])
    result = clean_text(text, load_rules(), repeated=repeated)
    assert [r["text"] for r in result.removed if r["rule"] == "repeated_line"] == [NAV, SECTION, FOOTER]
    # "Background" is repeated too, but inside the article: a subheading is content.
    assert result.body.split("\n\n") == ["The vote was seven to two.", "Background", "Taxes stay the same."]
    assert result.meta["title"] == "Council approves the new budget"


def test_repeated_lead_and_headline_of_story_updates_stay():
    title, paragraphs = STORIES[0]
    repeated = frozenset(line_key(line) for line in (title, *paragraphs))
    result = clean_text("\n\n".join([title, *paragraphs]), load_rules(), repeated=repeated)
    assert not [r for r in result.removed if r["rule"] == "repeated_line"]
    assert result.body.split("\n\n") == paragraphs


def test_pipeline_counts_per_source_then_cleans(tmp_path):
    site = tmp_path / "courier"
    site.mkdir()
    for i, story in enumerate(STORIES):
        (site / f"{i}.txt").write_text(_page(*story), encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()  # a different source: the courier's template means nothing here
    (other / "x.txt").write_text(_page("Lone story from elsewhere", ["It has one paragraph."]), encoding="utf-8")
    with test_pipeline() as p:
        files = (p | MatchFiles([str(tmp_path)]))["files"]
        repeated = files | CountRepeatedLines(10**6, JsonlFields(), None, min_articles=3, min_share=0.5)
        read = files | "Read" >> ReadArticles(10**6)
        cleaned = read.articles | CleanArticles(load_rules(), repeated)
        removed = cleaned.articles | beam.Map(
            lambda a: (a.source_path.rsplit("/", 2)[-2], sorted(r["text"] for r in a.removed if r["rule"] == "repeated_line"))
        )
        expected = [("courier", sorted([NAV, SECTION, FOOTER]))] * 4 + [("other", [])]
        assert_that(removed, equal_to(expected))
