"""The headline of a whole page from its plain text (transforms/text_titles.py) and what the
cleaner does with it. The pages are made up, in the shape scraped news pages have."""
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.article import Article
from transforms import text_titles
from transforms.clean import clean_article, clean_text, load_rules, parse_rules
from transforms.text import to_paragraphs

RULES = load_rules()
NAV = ["Home", "World", "Politics", "Business", "Sport", "Culture", "Opinion", "Weather", "Sign in", "Subscribe"]
BODY = [
    "The city council voted on Tuesday to expand the river flood defences after two winters of damage to homes along the embankment.",
    "Council members approved the plan by nine votes to two, and construction of the new walls is expected to begin next spring.",
    "Residents who lost furniture and cars in the floods welcomed the decision but said the defences should have come years earlier.",
    "The project will be paid for partly by a national resilience fund and partly by a levy on new building permits in the district.",
    "Engineers say the walls will protect about four thousand homes from a flood of the size the city saw in the winter of 2023.",
    "Opponents argued that the money would be better spent on moving the most exposed households away from the river altogether.",
]
FOOTER = ["Most read", "Related stories", "Contact us", "Privacy policy", "Terms of use", "Cookie settings"]
HEADLINE = "Council votes to expand river flood defences"
DECK = "The plan wins nine votes to two after two winters of damage"


def page(headline=HEADLINE):
    head = ["Politics", headline, DECK, "By Jane Doe", "March 4, 2025", "Share on Facebook", "Share on X"]
    return "\n\n".join(NAV + head + BODY + FOOTER)


def test_the_headline_above_deck_byline_and_date_is_the_title_and_leaves_the_body():
    result = clean_text(page(), RULES)
    assert result.meta["title"] == HEADLINE
    assert result.meta["author"] == "Jane Doe" and result.meta["text_date"] == "2025-03-04"
    assert {"rule": "title", "text": HEADLINE} in result.removed
    assert HEADLINE not in result.body and result.body.startswith(BODY[0])


def test_the_site_name_after_a_bar_is_not_part_of_the_title():
    result = clean_text(page(HEADLINE + " | The Daily Example"), RULES)
    assert result.meta["title"] == HEADLINE
    assert {"rule": "title", "text": HEADLINE + " | The Daily Example"} in result.removed


def test_no_headline_shaped_line_above_the_text_means_no_title():
    text = "\n\n".join(NAV + ["Share on Facebook", "Share on X"] + BODY + FOOTER)
    result = clean_text(text, RULES)
    assert "title" not in result.meta
    assert text_titles.find_title(to_paragraphs(text)) is None


def test_a_page_without_article_text_has_no_candidates():
    assert text_titles.candidates(NAV + FOOTER) == []


def test_the_date_line_and_byline_are_never_candidates():
    lines = to_paragraphs(page())
    date_index, byline_index = lines.index("March 4, 2025"), lines.index("By Jane Doe")
    found = {i for i, _, _ in text_titles.candidates(lines, date_index, frozenset({byline_index}))}
    assert lines.index(HEADLINE) in found and lines.index(DECK) in found
    assert date_index not in found and byline_index not in found


def test_a_title_from_the_input_wins_and_no_line_leaves_the_body_for_one():
    article = Article(source_path="feed.jsonl", source_bytes=1, content_sha256="0" * 64, encoding="utf-8",
                      input_format="jsonl", text=page(), title="Flood defences: council says yes")
    cleaned = clean_article(article, RULES)
    assert cleaned.title == "Flood defences: council says yes"
    assert "title" not in [r["rule"] for r in cleaned.removed]


def _ranker_picks(monkeypatch, line):
    """The ranker's choice, fixed: these tests are about what the cleaner does with it."""
    monkeypatch.setattr(text_titles, "find_title", lambda lines, *args: (line, lines.index(line)))


def test_a_line_a_named_rule_removed_is_never_the_title(monkeypatch):
    _ranker_picks(monkeypatch, HEADLINE)
    pack = parse_rules({"rules": [{"name": "my_promo", "pattern": "^Council votes"}]}, "<test>")
    result = clean_text(page(), RULES + pack)
    assert "title" not in result.meta
    assert {"rule": "my_promo", "text": HEADLINE} in result.removed
    assert "title" not in [r["rule"] for r in result.removed]


def test_a_title_the_article_holds_as_a_sentence_stays_in_the_body(monkeypatch):
    question = "Will the council's new river walls finally keep the water out of the homes this winter?"
    text = "\n\n".join(NAV + ["Politics", "By Jane Doe", "March 4, 2025", question] + BODY + FOOTER)
    _ranker_picks(monkeypatch, question)
    result = clean_text(text, RULES)
    assert question in result.body.split("\n\n")  # the classifier kept it as the article's first sentence
    assert result.meta["title"] == question
    assert "title" not in [r["rule"] for r in result.removed]


def test_the_ranker_s_line_leaves_the_body_once_as_title(monkeypatch):
    _ranker_picks(monkeypatch, DECK)
    result = clean_text(page(), RULES)
    assert result.meta["title"] == DECK
    assert [r for r in result.removed if r["text"] == DECK] == [{"rule": "title", "text": DECK}]
    assert DECK not in result.body


def test_the_model_reads_exactly_the_cues_the_candidates_have():
    found = text_titles.candidates(to_paragraphs(page()))
    assert found and all(sorted(f) == sorted(text_titles.load_model()["features"]) for _, _, f in found)


def _title_labels():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "training" / "title_labels.py"
    spec = importlib.util.spec_from_file_location("title_labels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_labels_take_the_headline_out_of_an_html_title_and_nothing_less():
    is_right = _title_labels().is_right
    title = "Zach Parise heating up, scores twice as Wild beat Sabres 4-1 – Twin Cities"
    assert is_right("Zach Parise heating up, scores twice as Wild beat Sabres 4-1", title, exact=False)
    assert not is_right("Zach Parise heating up, scores twice as Wild", title, exact=False)  # cut short
    nyt = "Opinion | Republicans Are Following Trump to Nowhere - The New York Times"
    assert is_right("Republicans Are Following Trump to Nowhere", nyt, exact=False)
    assert is_right("Republicans Are Following Trump to Nowhere - The New York Times", nyt, exact=False)
    assert not is_right("The New York Times", nyt, exact=False)
    assert is_right("Markets rally", "Analysis: Markets rally", exact=False)
    assert not is_right("Analysis", "Analysis: Markets rally after the decision", exact=False)
    assert not is_right("Markets rally | Example News", "Markets rally", exact=True)  # fundus: exact
    assert not is_right("Anything", "", exact=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), min_size=1, max_size=120).map(str.strip).filter(bool), max_size=80))
def test_any_page_gives_no_title_or_a_line_of_it(lines):
    found = text_titles.find_title(lines)
    assert found is None or (0 <= found[1] < len(lines) and lines[found[1]].startswith(found[0]) and found[0])


def test_the_headline_is_found_among_thousands_of_teaser_headlines():
    # 20,000 heading-shaped teaser lines around one article: only the article's window counts.
    teasers = [f"Teaser headline number {i} about something else entirely" for i in range(10_000)]
    lines = teasers + to_paragraphs(page()) + teasers
    assert text_titles.find_title(lines) == (HEADLINE, lines.index(HEADLINE))
    assert len(text_titles.candidates(lines)) <= text_titles.REACH_ABOVE + text_titles.REACH_BELOW


def test_a_model_of_one_cue_ranks_the_candidates(tmp_path):
    # One tree on the distance to the text: the nearer line above the text scores higher.
    model = {"features": ["d"], "baseline": 0.0, "decision_threshold": 0.5,
             "trees": {"depth": 1, "feature": [[0, 0, 0]], "threshold": [[1.0, 0, 0]],
                       "left": [[1, 1, 2]], "right": [[2, 1, 2]], "value": [[0, 2.0, -2.0]]}}
    path = tmp_path / "one.json"
    path.write_text(__import__("json").dumps(model), "utf-8")
    ranked = text_titles.rank_titles(to_paragraphs(page()), model=text_titles.load_model(str(path)))
    assert ranked and ranked[0][0] > 0.5 > ranked[-1][0]
