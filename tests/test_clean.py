"""The cleaner on the five sample articles (exact expectations) and on adversarial text."""
from __future__ import annotations

import dataclasses
import datetime as dt

import apache_beam as beam
import pytest

from apache_beam.testing.util import assert_that, equal_to

from schemas.article import Article
from tests.conftest import sample, test_pipeline
from transforms.clean import (
    CleanArticles,
    RulePackError,
    clean_article,
    clean_text,
    load_rules,
    parse_rules,
)
from transforms.errors import ArticleRejected
from transforms.failures import REJECTED
from transforms.text import to_paragraphs

RULES = load_rules()


def clean(prefix: str):
    return clean_text(sample(prefix), RULES)


def paragraphs(body: str) -> list[str]:
    return body.split("\n\n")


def test_000_date_header_lifted_and_removed_from_body():
    result = clean("000")
    assert result.meta == {"date": "2025-09-02", "dateline": "BEIJING"}
    assert result.removed == ({"rule": "date_header", "text": "date 2025-09-02 BEIJING:"},)
    assert result.body.startswith("In a show of solidarity with the aggressors in Europe’s worst war in 80 years")
    assert "date 2025" not in result.body and "BEIJING" not in result.body
    assert len(paragraphs(result.body)) == 16  # every input line is a paragraph; the header line keeps its text
    assert result.body.endswith("may offer clues to Putin’s intentions.")


def test_001_title_lifted_and_widget_tail_removed():
    result = clean("001")
    assert result.meta == {"title": "Beijing Summit Brings Russia, North Korea, and China Together Amid Global Tensions"}
    rules = [r["rule"] for r in result.removed]
    assert rules == ["title", "empty_metadata"] + ["widget_tail"] * 12
    removed_text = [r["text"] for r in result.removed]
    assert removed_text[1] == "Date:"
    assert removed_text[2:6] == ["Share post:", "Popular", "More like this", "Related"]
    assert "Young Man Fined RM2,000 For Organising Illegal Street Race Just For Fun" in removed_text
    assert "A foreign traveller heading to Denpasar, Bali, has drawn..." in removed_text
    body = paragraphs(result.body)
    assert len(body) == 9
    assert body[0].startswith("In a rare show of unity among some of the world’s most isolated regimes")
    assert body[-1].endswith("taking shape in open defiance of the West.")


def test_002_footer_promo_and_metadata():
    result = clean("002")
    assert result.meta == {"author": "Lingong Kong", "credit": "The Conversation"}
    assert [(r["rule"], r["text"]) for r in result.removed] == [
        (
            "inline_promo",
            "You may be interested: Governor of the Fed had already declared his property as ‘Holiday House’, "
            "reveals a document after Trump accusations",
        ),
        ("author_bio", "*Lingong Kong is a candidate for a Doctorate in Political Science at Auburn University."),
        ("syndication_credit", "This article was originally published in The Conversation"),
        ("social_cta", "Do you use more Facebook? Follow us to always be informed"),
    ]
    body = paragraphs(result.body)
    # 002 separates paragraphs with single newlines; the body uses blank lines.
    assert len(body) == len([line for line in sample("002").splitlines() if line.strip()]) - 4
    for kept in (
        "And none of this will benefit China.",
        "The awkward XI position on Ukraine",
        "Approach between the EU and the United States",
        "Hardening posture in South Korea",
        "Chinese-Japanese relations",
        "Japan is in a position similar to that of South Korea.",
        "A new international order?",
    ):
        assert kept in body
    assert body[-1].endswith("between the United States, Japan and Japan.")


def test_003_trailing_sources_heading_removed():
    result = clean("003")
    assert result.meta == {}
    assert result.removed == ({"rule": "sources_heading", "text": "Sources"},)
    body = paragraphs(result.body)
    assert len(body) == 16
    assert body[-1].endswith("extract benefits from both Moscow and Beijing.”")


def test_004_clickbait_intro_is_content():
    result = clean("004")
    assert result.meta == {}
    assert result.removed == ()
    body = paragraphs(result.body)
    assert body[0].startswith("Talk about a power trio! Kim Jong Un is making a rare appearance")
    assert len(body) == 10


@pytest.mark.parametrize("word", ["Related", "Popular", "More like this"])
def test_marker_words_inside_sentences_are_kept(word):
    text = (
        "The summit opened on Monday in Geneva with delegations from forty countries.\n\n"
        f"{word} talks were held in the same building later that day, officials said.\n\n"
        f"The mood was calm. {word} is not a heading here.\n"
    )
    result = clean_text(text, RULES)
    assert result.removed == ()
    assert len(paragraphs(result.body)) == 3


def test_marker_line_followed_by_prose_is_not_a_tail():
    prose = " ".join(["The committee examined every clause of the proposal in detail"] * 4) + "."
    text = f"Opening paragraph of the story, long enough to be content.\n\nRelated\n\n{prose}\n\nShort end."
    result = clean_text(text, RULES)
    assert result.removed == ()
    assert "Related" in paragraphs(result.body)


def test_bio_like_sentences_in_the_middle_are_kept():
    text = (
        "The report was published on Tuesday by a group of economists.\n\n"
        "*John Smith is a professor of economics at Example University.\n\n"
        "John Smith is a professor of economics who has studied trade for decades.\n\n"
        "The findings will be debated in parliament next month, officials said.\n"
    )
    result = clean_text(text, RULES)
    assert result.removed == ()
    assert "author" not in result.meta


def test_long_paragraph_quoting_a_call_to_action_is_kept():
    quote = (
        "“Follow us and you will be informed of every decision we take,” the minister told a crowd of "
        "thousands gathered outside the parliament building on a rainy Sunday afternoon in the capital."
    )
    result = clean_text(f"First paragraph of the article.\n\n{quote}\n\nLast paragraph.", RULES)
    assert quote in paragraphs(result.body)


def test_head_metadata_lines_are_lifted():
    text = (
        "Markets rally after rate decision\n\nBy Jane Doe\n\nPublished: September 3, 2025\n\n"
        "Stocks rose sharply on Wednesday after the central bank held rates steady.\n\n"
        "Analysts expect further gains this week."
    )
    result = clean_text(text, RULES)
    assert {k: result.meta.get(k) for k in ("title", "author", "date")} == {
        "title": "Markets rally after rate decision",
        "author": "Jane Doe",
        "date": "September 3, 2025",
    }
    assert [r["rule"] for r in result.removed] == ["title", "byline", "date_line"]
    assert paragraphs(result.body)[0].startswith("Stocks rose sharply")


def test_reuters_style_dateline_is_lifted_but_kept_in_body():
    text = "WASHINGTON (Reuters) - The Senate passed the bill on Friday.\n\nMore details followed."
    result = clean_text(text, RULES)
    assert result.meta == {"dateline": "WASHINGTON"}
    assert result.body.startswith("WASHINGTON (Reuters) - The Senate")


def test_hard_wrapped_paragraphs_are_rejoined_and_lines_kept_apart():
    wrapped = (
        "The government announced on Monday that it would raise the\n"
        "minimum wage by five percent next year, a move welcomed by\n"
        "unions but criticised by some employers.\n\n"
        "A second paragraph follows here.\n"
    )
    assert to_paragraphs(wrapped) == [
        "The government announced on Monday that it would raise the minimum wage by five percent next year, "
        "a move welcomed by unions but criticised by some employers.",
        "A second paragraph follows here.",
    ]
    assert to_paragraphs("One line.\nAnother line.\r\nThird\u00a0line.") == ["One line.", "Another line.", "Third line."]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"rules": [{"name": "a", "pattern": "x"}, {"name": "a", "pattern": "y"}]}, "duplicate rule name"),
        ({"rules": [{"name": "a", "pattern": "("}]}, "bad pattern"),
        ({"rules": [{"name": "a", "pattern": "x", "kind": "magic"}]}, "kind must be one of"),
        ({"rules": [{"name": "a", "pattern": "(?P<colour>x)"}]}, "unknown named groups"),
        ({"rules": [{"name": "a", "pattern": "x", "where": "middle"}]}, "where must be one of"),
        ({"rules": [{"name": "a", "pattern": 5}]}, "pattern must be a string"),
        ({"rules": [{"name": "a", "pattern": "x", "max_words": "ten"}]}, "max_words must be a whole number"),
        ({"rules": [{"name": "a", "pattern": "x", "max_words": 0}]}, "max_words must be a whole number"),
        ({"nope": []}, "'rules' list"),
    ],
)
def test_bad_rule_packs_are_refused_with_the_reason(spec, message):
    with pytest.raises(RulePackError, match=message):
        parse_rules(spec)


def _article(text: str, path: str = "mem/a.txt") -> Article:
    return Article(source_path=path, source_bytes=len(text), content_sha256="0" * 64, encoding="utf-8", text=text)


def test_clean_article_takes_the_text_date_before_the_path_date():
    article = clean_article(_article(sample("000"), "/data/2024-01-05/a.txt"), RULES)
    assert (article.published_date, article.date_source) == (dt.date(2025, 9, 2), "rule")
    assert article.text is None and article.dateline == "BEIJING"


def test_clean_article_falls_back_to_the_path_date_then_none():
    in_path = clean_article(_article(sample("003"), "s3://bucket/2025/09/04/003.txt"), RULES)
    assert (in_path.published_date, in_path.date_source) == (dt.date(2025, 9, 4), "path")
    nowhere = clean_article(_article(sample("003"), "incoming/003.txt"), RULES)
    assert (nowhere.published_date, nowhere.date_source) == (None, None)


def test_invalid_header_date_is_not_invented():
    article = clean_article(_article(" date 2025-13-45 PARIS: Body text of the story follows."), RULES)
    assert article.published_date is None and article.date_source is None
    assert article.body == "Body text of the story follows."


PAGE = """Home
News
Channels
Security
Search
Cloud Vendors Report Strong Quarter As Enterprise Spending Shifts
By Joseph Tsidulko November 19, 2019, 07:47 PM EST
The biggest cloud vendors reported strong results on Tuesday as enterprises moved more of their spending to hosted services, analysts said.
Revenue at the three largest providers grew by more than a third compared with the same quarter of 2018, according to figures released by the companies.
"We are seeing customers commit to multi-year contracts," one executive told investors on a call that lasted nearly two hours.
Smaller providers struggled to keep up, and several announced layoffs on March 3, 2019 and again in the summer.
Related Articles
Copyright 2019 The Channel Company. All rights reserved."""


def test_a_byline_with_a_date_gives_author_and_date_and_leaves_the_body():
    article = clean_article(_article(PAGE, "incoming/page.txt"), RULES)
    assert (article.published_date, article.date_source) == (dt.date(2019, 11, 19), "byline")
    assert article.author == "Joseph Tsidulko"
    assert "Tsidulko" not in article.body and article.body.startswith("The biggest cloud vendors")
    assert {"rule": "text_byline", "text": "By Joseph Tsidulko November 19, 2019, 07:47 PM EST"} in article.removed


@pytest.mark.parametrize(
    "line, day, source",
    [
        ("Nov. 19, 2019 8:03 am ET", dt.date(2019, 11, 19), "header"),
        ("Published: 19 November 2019 | Updated: 21 November 2019", dt.date(2019, 11, 19), "header"),
        ("Updated: 21 November 2019", None, None),  # an "Updated" time alone is no publication date
        ("Veröffentlicht am 19.11.2019", dt.date(2019, 11, 19), "header"),
    ],
)
def test_date_lines_above_the_text(line, day, source):
    page = PAGE.replace("By Joseph Tsidulko November 19, 2019, 07:47 PM EST", line)
    article = clean_article(_article(page, "incoming/page.txt"), RULES)
    assert (article.published_date, article.date_source) == (day, source)
    assert line not in article.body


def test_a_date_in_the_story_or_the_copyright_line_is_no_publication_date():
    page = PAGE.replace("By Joseph Tsidulko November 19, 2019, 07:47 PM EST\n", "")
    article = clean_article(_article(page, "incoming/page.txt"), RULES)
    assert (article.published_date, article.date_source, article.author) == (None, None, None)


def test_structured_and_rule_dates_come_before_the_text_date():
    html = dataclasses.replace(_article(PAGE), input_format="html", meta_date="2019-11-20")
    assert (clean_article(html, RULES).published_date, clean_article(html, RULES).date_source) == (dt.date(2019, 11, 20), "html_meta")
    feed = dataclasses.replace(_article(PAGE), input_format="jsonl", meta_date="2019-11-20")
    assert clean_article(feed, RULES).date_source == "feed"


def test_a_date_line_inside_an_article_stays_and_gives_no_date():
    story = (
        "The council met again on Tuesday to discuss the budget for the coming year.\n\n"
        "Members disagreed about the cost of the new bridge across the river.\n\n"
        "June 4, 2024\n\n"
        "On that day the first plans were shown to the public in the town hall.\n\n"
        "A final vote is expected before the end of the month, officials said."
    )
    result = clean_text(story, RULES)
    assert "June 4, 2024" in result.body and "text_date" not in result.meta
    assert all(r["rule"] != "text_date" for r in result.removed)


def test_what_a_header_rule_left_of_a_paragraph_is_never_taken_for_a_date_line():
    text = (
        "Published: September 3, 2025 Stocks rose.\n\n"
        "Analysts expect further gains this week as investors return from the summer holidays, traders said.\n\n"
        "The central bank held its main rate steady for a third meeting in a row on Wednesday afternoon."
    )
    result = clean_text(text, RULES)
    assert result.body.startswith("Stocks rose.")
    assert [r["rule"] for r in result.removed if r["rule"].startswith("text_")] == []


def test_a_byline_is_never_the_title():
    text = (
        "By Jane Doe, September 3, 2025\n\n"
        "Stocks rose sharply on Wednesday after the central bank held rates steady.\n\n"
        "Analysts expect further gains this week as investors return from the holidays."
    )
    result = clean_text(text, RULES)
    assert result.meta.get("title") != "By Jane Doe, September 3, 2025"
    assert "Jane Doe" not in result.body


def test_a_byline_over_several_lines_leaves_the_body_whole():
    page = PAGE.replace("By Joseph Tsidulko November 19, 2019, 07:47 PM EST", "November 19, 2019\nBy\nJoseph Tsidulko\nMaria Example")
    article = clean_article(_article(page, "incoming/page.txt"), RULES)
    assert article.author == "Joseph Tsidulko, Maria Example"
    assert "Tsidulko" not in article.body and "Maria Example" not in article.body
    assert [r["text"] for r in article.removed if r["rule"] == "text_byline"] == ["By", "Joseph Tsidulko", "Maria Example"]


def test_nothing_left_after_cleaning_is_a_rejection():
    with pytest.raises(ArticleRejected) as info:
        clean_article(_article("Share post:\n\nDate:\n"), RULES)
    assert info.value.error_type == "no_text_after_cleaning"


def test_clean_transform_splits_articles_and_rejections():
    good = _article(sample("003"), "in/003.txt")
    empty = _article("Date:\n\nSources\n", "in/empty.txt")
    with test_pipeline() as p:
        out = p | beam.Create([good, empty]) | CleanArticles(RULES)
        assert_that(
            out.articles | "Heads" >> beam.Map(lambda a: (a.source_path, a.body[:30], a.removed[0]["rule"])),
            equal_to([("in/003.txt", "Chinese chief Xi Jinping and N", "sources_heading")]),
            label="articles",
        )
        assert_that(
            out[REJECTED] | "Why" >> beam.Map(lambda r: (r.source_path, r.stage, r.error_type)),
            equal_to([("in/empty.txt", "clean", "no_text_after_cleaning")]),
            label="rejected",
        )


def test_user_rule_packs_add_replace_and_disable_rules(tmp_path):
    pack = tmp_path / "site.yaml"
    pack.write_text(
        "rules:\n"
        "  - {name: site_footer, kind: line, where: footer, pattern: '^Example Times, 1 Main St'}\n"
        "  - {name: social_cta, kind: line, pattern: '^Never matches anything here$'}\n"
        "  - {name: sources_heading, enabled: false}\n"
    )
    rules = load_rules([str(pack)])
    names = [r.name for r in rules]
    assert names.count("social_cta") == 1 and "sources_heading" not in names and names[-1] == "site_footer"
    text = "Real paragraph of the story.\n\nDo you use Facebook? Follow us to always be informed\n\nSources\n\nExample Times, 1 Main St"
    result = clean_text(text, rules, classify=False)  # the rules alone (the classifier may take a tail line)
    assert [r["rule"] for r in result.removed] == ["site_footer"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: no_such_rule, enabled: false}\n")
    with pytest.raises(RulePackError, match="cannot disable 'no_such_rule'"):
        load_rules([str(bad)])


@pytest.mark.parametrize(
    "line, rule",
    [
        ("Sign up for our newsletter to get the day's top stories.", "newsletter_signup"),
        ("We use cookies to improve your experience on our site.", "cookie_notice"),
        ("By signing up you consent to receive the above newsletter from Example Media Inc.", "cookie_notice"),
        ("Ich bin damit einverstanden, dass mir externe Inhalte angezeigt werden. Damit können personenbezogene Daten an "
         "Drittplattformen übermittelt werden.", "cookie_notice"),
        ("Ich bin damit einverstanden, dass mir Inhalte von YouTube angezeigt werden.", "cookie_notice"),
        ("Deine Privatsphäre-Einstellungen verhindern das Laden und Anzeigen aller externen Inhalte.", "cookie_notice"),
        ("This website uses cookies to improve your experience while you navigate through the website. " + "Out of these "
         "cookies, the cookies that are categorized as necessary are stored on your browser. " * 4, "cookie_banner"),  # a long banner
        ("© 2025 Example Media Group. All rights reserved.", "copyright"),
        ("Advertisement", "advertisement"),
        ("Photo: Jane Doe/Example News", "photo_credit"),
        ("(AP Photo/Mark Lennihan)", "photo_credit"),
        ("1.2K shares", "engagement_counter"),
        ("Tags: China, Russia, North Korea", "tag_list"),
        ("Privacy Policy", "site_chrome"),
        ("Skip to main content", "site_chrome"),
        ("Back to Gallery", "site_chrome"),
        ("Te puede interesar: El Gobierno aprueba el presupuesto", "inline_promo"),
        ("Síguenos en Facebook y mantente informado", "social_cta"),
        ("Read more: Markets slide as oil jumps", "inline_promo"),
    ],
)
def test_boilerplate_families_are_removed_by_name(line, rule):
    text = f"The first paragraph of the article is real content.\n\n{line}\n\nThe last paragraph is real content too."
    assert [r["rule"] for r in clean_text(text, RULES).removed] == [rule]


@pytest.mark.parametrize(
    "line",
    [
        "Home prices rose for a third month, the agency said.",
        "The company said it would advertise the jobs next week.",
        "Copyright law is at the centre of the dispute between the two publishers.",
        "Share prices fell 3% in early trading.",
        "Photos taken by the rover show a dry riverbed.",
        "Privacy campaigners said the plan went too far.",
        "The regulator said the website uses cookies to track readers without asking them first.",
        "By signing up for the scheme, farmers agree to leave a strip of every field unploughed.",
        "By clicking the green button, you agree to let dozens of advertising partners follow you across the web, the complaint says.",
        "Wer auf der Seite landete, sah zunächst den Hinweis \"Wir verwenden Cookies\", und erst nach mehreren Klicks ließ sich die "
        "Zustimmung verweigern.",
        # articles about banners and consent, quoting them
        "By continuing to use coal for another decade, the country will miss its climate targets, the report says.",
        'Many people click "accept all cookies" without reading, said the data protection commissioner.',
        "Wir verwenden Cookies nur für die Reichweitenmessung, sagt der Verlag, und widerspricht damit den Vorwürfen.",
        "This site uses cookies, says the notice, but the watchdog found it set them before the user gave any consent.",
        "By clicking the link in the fake email, you agree to hand over your bank details, not to the terms of a real bank.",
        # an article about a banner, quoting it, longer than a notice
        "Investigators said the banner, which told readers that \"we use cookies to personalise content and ads\", offered an "
        "\"accept all cookies\" button in bright green but hid the option to refuse on a second page that most visitors never "
        "reached. The regulator said this design pushed people into agreeing to tracking they did not want, and that the company "
        "had collected data on more than two million readers without a valid legal basis and without telling them who received it.",
        "Back to school",
    ],
)
def test_content_that_looks_like_boilerplate_words_is_kept(line):
    text = f"The first paragraph of the article is real content.\n\n{line}\n\nThe last paragraph is real content too."
    assert clean_text(text, RULES).removed == ()


# --- other languages and scripts: the line classifier's features must not assume English ---

_ZH_NAV = ["首页", "新闻", "体育", "财经", "科技", "娱乐", "登录", "注册", "搜索"]
_ZH_BODY = [
    "昨天下午，市政府召开新闻发布会，介绍了今年城市交通建设的最新进展。",
    "据介绍，今年全市共完成道路改造项目三十二个，新增公交线路十五条，市民出行更加方便。",
    "交通局负责人表示，明年将继续加大投入，重点解决老城区停车难的问题，并计划在主要路口增设智能信号灯。",
    "不少市民对此表示欢迎。一位住在老城区的居民说，过去每天下班回家都要花很长时间找车位，希望新的措施能尽快落实。",
    "专家认为，城市交通问题需要综合治理，除了建设基础设施，还应鼓励市民更多地选择公共交通和绿色出行方式。",
]
_ZH_TAIL = ["相关新闻", "市长会见外国代表团", "本市举办国际马拉松比赛", "新地铁线路下月开通", "关于我们", "联系我们",
            "版权所有 © 2024 新闻网"]


def test_unspaced_scripts_are_counted_in_words_not_whitespace_runs():
    from transforms.line_features import word_equivalents

    assert word_equivalents("The council met on Tuesday") == 5
    assert 15 <= word_equivalents(_ZH_BODY[0]) <= 25  # one whitespace "word", about 20 English ones
    assert word_equivalents("首页") < 3


def test_a_page_in_a_language_without_stop_list_gets_none_not_english():
    import numpy as np

    from transforms.line_features import feature_names, page_features
    from transforms.stoplists import TOKEN, stoplist_language

    tokens = TOKEN.findall(" ".join(_ZH_NAV + _ZH_BODY).lower())
    assert stoplist_language(tokens) == ""
    english = ["the", "council", "said", "on", "tuesday", "that", "it", "would", "vote", "on", "the", "plan"]
    assert stoplist_language(english) == "English"
    X = page_features(_ZH_NAV + _ZH_BODY + _ZH_TAIL)
    names = feature_names()
    # no stop list and no letter case in Chinese: undefined, not zero
    for name in ("stop_share", "stop_rel", "title_share", "upper_share"):
        assert np.isnan(X[:, names.index(name)]).all()


def test_chinese_whole_page_keeps_the_article_and_drops_navigation():
    from transforms.line_classifier import clean_lines, looks_like_page

    lines = _ZH_NAV + ["城市交通建设取得新进展"] + _ZH_BODY + _ZH_TAIL
    assert looks_like_page(lines) and not looks_like_page(_ZH_BODY * 3)
    kept = [line for line, keep in zip(lines, clean_lines(lines)) if keep]
    assert kept == _ZH_BODY


def test_refining_trees_score_again_only_the_lines_the_logistic_stage_is_unsure_of():
    import numpy as np

    from transforms import trees
    from transforms.line_classifier import classify_lines, load_model

    lines = _ZH_NAV + ["城市交通建设取得新进展"] + _ZH_BODY + _ZH_TAIL
    model = {k: v for k, v in load_model().items() if k != "refine"}
    plain = np.array(classify_lines(lines, model=model))
    one_leaf = {"depth": 1, "feature": [[0, 0]], "threshold": [[0.0, 0.0]], "left": [[1, 1]], "right": [[1, 1]], "value": [[0.0, 30.0]]}
    band = (float(np.sort(plain)[len(plain) // 3]), float(np.sort(plain)[2 * len(plain) // 3]))
    refined = np.array(classify_lines(lines, model={**model, "refine": {"band": band, "walk": trees.load(one_leaf, 0.0)}}))
    unsure = (plain > band[0]) & (plain < band[1])
    assert unsure.any() and (~unsure).any()
    assert np.allclose(refined[unsure], 1.0) and np.array_equal(refined[~unsure], plain[~unsure])


@pytest.mark.parametrize("line", ["这是一句话。", "他说：“走吧。”", "यह एक वाक्य है।", "هل هذا سؤال؟"])
def test_sentence_ends_of_other_scripts_count_as_finished_sentences(line):
    from transforms.text import is_sentence

    assert is_sentence(line)


def test_line_features_of_a_very_long_page_take_bounded_memory():
    """A page near --max_article_bytes (2 MB) once took about 285 bytes a character in numpy
    temporaries (about 0.5 GB); the per-line counts now need a few dozen."""
    import tracemalloc

    from transforms.line_classifier import classify_lines

    paragraph = "The council met on Tuesday and voted, 7 to 2, to extend the tram line (Phase II)."
    lines = [f"{paragraph} Item {i}." if i % 7 else "Related: More news" for i in range(8000)]
    chars = sum(map(len, lines))
    classify_lines(lines[:20])  # one-time loads (model, tables) are not what is measured
    tracemalloc.start()
    try:
        probabilities = classify_lines(lines)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(probabilities) == len(lines) and chars > 600_000
    assert peak / chars < 100, f"{peak / chars:.0f} bytes a character"


def test_head_rules_apply_only_to_the_first_lines_and_max_words_is_inclusive():
    pack = parse_rules({"rules": [
        {"name": "kicker", "pattern": "^Kicker", "where": "head"},
        {"name": "short_promo", "pattern": "^Promo", "max_words": 3},
    ]}, "<test>")
    prose = [f"Paragraph {i} of the story goes on with enough words to be prose and ends here." for i in range(12)]
    lines = ["Kicker on top", *prose[:8], "Kicker further down", "Promo one two", "Promo one two three", *prose[8:]]
    result = clean_text("\n\n".join(lines), pack, classify=False)
    removed = [(r["rule"], r["text"]) for r in result.removed]
    assert ("kicker", "Kicker on top") in removed and "Kicker further down" in result.body
    assert ("short_promo", "Promo one two") in removed and "Promo one two three" in result.body


def test_each_rule_pack_matches_its_own_rules_however_often_a_line_was_seen_before():
    # The first match of a line is remembered per pack: a line another pack matched (or did
    # not) is matched against this pack's rules, and a head rule only in the head.
    lines = ["Sponsored: a word from our partner"] + [f"Paragraph {i} of the story goes on with enough words to be prose." for i in range(6)]
    text = "\n\n".join(lines + ["Sponsored: a word from our partner"])
    plain = clean_text(text, RULES, classify=False)
    mine = parse_rules({"rules": [{"name": "partner_promo", "pattern": "^Sponsored:", "where": "head"}]}, "<test>")
    ours = clean_text(text, RULES + mine, classify=False)
    assert "partner_promo" not in [r["rule"] for r in plain.removed]
    assert [r["rule"] for r in ours.removed if r["text"].startswith("Sponsored")] == ["partner_promo"]
    assert ours.body.count("Sponsored: a word from our partner") == 1  # the same line below the head stays
    again = clean_text(text, RULES, classify=False)
    assert again.removed == plain.removed and again.body == plain.body
    # A user pack that replaces a packaged rule under its own name matches with the new pattern.
    line = "All rights reserved."
    assert ("copyright", line) in [(r["rule"], r["text"]) for r in clean_text(text + "\n\n" + line, RULES, classify=False).removed]
    mine = load_rules() + parse_rules({"rules": [{"name": "copyright", "pattern": "^Sponsored:"}]}, "<test>")
    replaced = clean_text(text + "\n\n" + line, tuple({r.name: r for r in mine}.values()), classify=False)
    assert line in replaced.body.split("\n\n")
    assert [r["rule"] for r in replaced.removed if r["text"].startswith("Sponsored")] == ["copyright", "copyright"]


def test_remembered_rule_matches_stay_bounded(monkeypatch):
    from transforms import clean

    monkeypatch.setattr(clean._Matcher, "MEMO_LINES", 50)
    clean.forget_rule_matches()
    lines = [f"Line {i} of a long page about nothing much" for i in range(400)]
    result = clean_text("\n\n".join(lines + ["All rights reserved."]), RULES, classify=False)
    assert ("copyright", "All rights reserved.") in [(r["rule"], r["text"]) for r in result.removed]  # after emptyings
    assert len(clean._matcher(tuple(RULES))._memo) <= 50
    # A long paragraph is matched, never kept: it seldom repeats and would hold memory.
    long_line = "A paragraph of the story that goes on and on " * 40
    clean_text("\n\n".join(lines[:20] + [long_line.strip()]), RULES, classify=False)
    assert all(len(line) <= clean._Matcher.MEMO_CHARS for _, line in clean._matcher(tuple(RULES))._memo)
    clean.forget_rule_matches()


_P = "The council met on Tuesday to discuss the river walls and the plan for the coming winter season."
_Q = "Residents said the floods had cost them dearly this winter and last, and they wanted action now."


@pytest.mark.parametrize(
    "first",
    [
        "Dated 12 March 1950, the letter was found in an attic.",  # a sentence that opens with a date
        "Published 3 May 2021, the report warned of floods.",
        "Updated figures released 3 March 2024 showed a fall.",  # a sentence that opens with a cue word
    ],
)
def test_a_sentence_that_opens_with_a_date_or_a_cue_stays_whole_and_gives_no_date(first):
    result = clean_text("\n\n".join([first, _P, _Q]), RULES)
    assert result.body.split("\n\n")[0] == first
    assert "date" not in result.meta


@pytest.mark.parametrize("line", ["By The Numbers", "By Tuesday Evening", "By Then It Was Too Late"])
def test_a_phrase_after_by_is_no_author(line):
    assert "author" not in clean_text("\n\n".join([line, _P, _Q]), RULES).meta
    assert clean_text("\n\n".join(["By Jane Smith", _P, _Q]), RULES).meta["author"] == "Jane Smith"


def test_many_widget_markers_cost_time_in_proportion_to_the_lines():
    # Every marker used to check all the lines after it: 10,000 took close to a minute. The
    # lines are counted, not timed: each line is asked once whether it is teaser-like.
    from transforms import clean

    calls = 0
    original = clean._is_teaser

    def counted(line, matcher):
        nonlocal calls
        calls += 1
        return original(line, matcher)

    text = "\n\n".join(f"Related\n\nStory number {i} about the river" for i in range(2000)) + "\n\n" + _P
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clean, "_is_teaser", counted)
        clean_text(text, RULES, classify=False)
    assert calls <= 4001


def test_a_lifted_field_of_a_page_run_together_is_left_out():
    line = "By " + "A" * 50_000
    assert "author" not in clean_text("\n\n".join([line, _P, _Q]), RULES).meta


def test_a_breadcrumb_on_top_of_an_article_is_not_its_title():
    result = clean_text("\n\n".join(["Home > News > Politics", _P, _Q]), RULES)
    assert result.meta.get("title") != "Home > News > Politics"
    assert clean_text("\n\n".join(["Council backs new river walls", _P, _Q]), RULES).meta["title"] == "Council backs new river walls"
