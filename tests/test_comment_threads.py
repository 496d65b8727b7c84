"""Readers' comments under an article (transforms/comment_threads.py) and what the cleaner does
with them. The pages are made up, in the shapes comment systems print."""
import pytest

from transforms.clean import clean_text, load_rules
from transforms.comment_threads import thread_start
from transforms.line_classifier import looks_like_page

RULES = load_rules()
ARTICLE = [
    "The city council voted on Tuesday to expand the river flood defences after two winters of damage to homes along the embankment.",
    "Council members approved the plan by nine votes to two, and construction of the new walls is expected to begin next spring.",
    "Residents who lost furniture and cars in the floods welcomed the decision but said the defences should have come years earlier.",
    "Engineers say the walls will protect about four thousand homes from a flood of the size the city saw in the winter of 2023.",
    "The project will be paid for partly by a national resilience fund and partly by a levy on new building permits in the district.",
    "Opponents argued that the money would be better spent on moving the most exposed households away from the river altogether.",
    "The mayor said the first section, along the old harbour, should be finished before the autumn storms of next year arrive.",
]
COMMENT = "I have lived by the river for thirty years and the water has never come up this far before, so this is overdue."
REPLY = "The levy on new building permits seems fair to me, but the council should publish the full costs before it starts."
THIRD = "Good news at last for the people on the embankment."
#: A thread of form A, three comments.
SAYS = ["Alex Smith says:", "November 19, 2019 at 6:34 am", COMMENT, "Reply", "riverwatcher says:", "November 19, 2019 at 6:44 am",
        REPLY, "Reply", "Bea says:", "November 19, 2019 at 7:02 am", THIRD]


NAV = ["Home", "News", "Local", "Sport", "Weather", "Opinion", "Sign in"]
FOOTER = ["Privacy policy", "Terms of use", "Contact us", "Cookie settings"]


def page(thread: list[str]) -> str:
    """A whole scraped page: the cut applies to nothing else."""
    return "\n\n".join([*NAV, "Council votes to expand river flood defences", *ARTICLE, *thread, *FOOTER])


@pytest.mark.parametrize(
    "thread",
    [
        ["3 thoughts on “Council votes”", *SAYS, "Leave a Reply"],
        ["Alex Smith on September 17, 2018 at 6:34 am said:", COMMENT, "Bea on September 18, 2018 at 9:02 pm said:", REPLY,
         "Carl on September 18, 2018 at 10:15 pm said:", THIRD],
        ["Modern Wife sagt:", "28. April 2024 um 10:17 Uhr", COMMENT, "Philipp sagt:", "28. April 2024 um 12:34 Uhr", REPLY,
         "Anonymous sagt:", "28. April 2024 um 15:58 Uhr", THIRD],
        # names alone over their times, under a comments heading
        ["[ 167 comments ]", "Top Rated Comments", "Nick A", "2 days ago at 07:47 am", COMMENT, "Rating: 25 Votes",
         "fmcshan", "2 days ago at 07:50 am", REPLY, "mike_s", "2 days ago at 08:12 am", "No surprise there, the levy was expected."],
        ["10 commentaires", "Mapper", "le 22/11/2024 à 09:47", COMMENT, "spoup", "le 22/11/2024 à 09:24", REPLY,
         "Lucie", "le 22/11/2024 à 09:18", "Il ne reste que la question du coût."],
    ],
)
def test_a_comment_thread_under_the_article_leaves_the_body(thread):
    result = clean_text(page(thread), RULES)
    assert all(paragraph in result.body for paragraph in ARTICLE)
    assert COMMENT not in result.body and REPLY not in result.body
    # forms A and B: from the first header on; form C: from the heading on
    first = next((line for line in thread if line.endswith(":")), thread[0])
    assert {"rule": "comment_thread", "text": first} in result.removed


@pytest.mark.parametrize(
    "thread",
    [
        # quotes in the news: "said:"/"wrote:" introduce quotes, "says:" over a sentence or a live
        # blog's time of day is no comment header
        ["Starmer said:", "We will not raise taxes.", "10.45 GMT", "Sunak said:", "We will cut them.", "11.02 GMT"],
        ["The chancellor says:", "Net zero by 2050 is still our goal.", COMMENT, "The shadow chancellor says:", "They promised this in 2019 too."],
        ["Reeves says:", "14:32 GMT", COMMENT, "Badenoch says:", "14:40 GMT", REPLY],
        ["Musk on 5 March 2024 wrote:", COMMENT, "The minister on 6 March 2024 replied:", REPLY],
        # a live blog's entries, a transcript and readers' questions under headings
        ["Comments (48)", "Sunak arrives", "10:32 GMT", COMMENT, "Roads closed", "10:45 GMT", REPLY, "Unions react", "11:02 GMT", COMMENT],
        ["Discussion", "Jane Smith", "00:01:12", COMMENT, "Tom Brown", "00:03:40", REPLY, "Ali Khan", "00:07:15", COMMENT],
        # a heading with its count, but the name-and-time lines far apart (teasers down the page)
        ["Comments (3)", "Jane Doe", "5 March 2024, 10:32", COMMENT, *ARTICLE * 3, "John Roe", "6 March 2024, 11:00", REPLY,
         *ARTICLE * 3, "Ann Poe", "7 March 2024, 12:00", COMMENT],
        # a verb of the comment systems, but no time stamp under it
        ["The report says:", COMMENT, "The minister says:", REPLY],
        # two headers are no thread (quotes or embedded posts can come in twos)
        ["Alex Smith says:", "November 19, 2019 at 6:34 am", COMMENT, "Bea says:", "November 19, 2019 at 7:02 am", REPLY],
        # "schreibt:" introduces an embedded post in news text, whatever its time stamp
        ["Lauterbach schreibt:", "12.03.2024, 14:32 Uhr", COMMENT, "Scholz schreibt:", "12.03.2024, 15:10 Uhr", REPLY,
         "Merz schreibt:", "12.03.2024, 16:01 Uhr", THIRD],
        # teasers with their authors and times, and no comments heading over them
        ["More from the city desk", "Jane Doe", "Today 5:00 am", COMMENT, "John Roe", "Today 6:10 am", REPLY,
         "Ann Poe", "Today 7:20 am", "A third teaser about the river and its banks."],
        # a comments heading over two such headers only
        ["2 comments", "Nick A", "2 days ago at 07:47 am", COMMENT, "fmcshan", "2 days ago at 07:50 am", REPLY],
    ],
)
def test_no_thread_from_quotes_teasers_or_too_few_headers(thread):
    result = clean_text(page(thread), RULES)
    assert not [r for r in result.removed if r["rule"] == "comment_thread"]
    assert thread_start(page(thread).split("\n\n"), [True] * len(page(thread).split("\n\n"))) is None


def test_a_thread_above_the_article_text_is_not_cut():
    lines = SAYS + ARTICLE
    assert thread_start(lines, [True] * len(lines)) is None  # less than a text's words above it
    assert thread_start(ARTICLE + lines, [True] * len(ARTICLE + lines)) == len(ARTICLE)


def test_a_comments_heading_needs_more_text_above_it_than_a_lead():
    # A live blog's entries under a comment counter by its lead look like form C.
    entries = ["Kommentare (23)", "Anna Müller", "12.03.2024, 14:32 Uhr", COMMENT, "Jan Roth", "12.03.2024, 14:50 Uhr", REPLY,
               "Anna Müller", "12.03.2024, 15:10 Uhr", THIRD]
    lead = ARTICLE[:3]
    assert thread_start(lead + entries, [True] * len(lead + entries)) is None
    assert thread_start(ARTICLE + entries, [True] * len(ARTICLE + entries)) == len(ARTICLE)


def test_a_quote_in_the_article_does_not_start_the_thread_early():
    quote = ["The chancellor says:", "Net zero by 2050 is still our goal."]
    result = clean_text(page(quote + ARTICLE + SAYS), RULES)
    cut = [r["text"] for r in result.removed if r["rule"] == "comment_thread"]
    assert cut[0] == "Alex Smith says:" and ARTICLE[-1] in result.body


def test_article_shaped_text_is_never_cut():
    said = ["Alex Smith on September 17, 2018 at 6:34 am said:", COMMENT, "Bea on September 18, 2018 at 9:02 pm said:", REPLY,
            "Carl on September 18, 2018 at 10:15 pm said:", THIRD]
    lines = ARTICLE + said  # a feed's body: the article's own text, no page around it
    assert not looks_like_page(lines) and thread_start(lines, [True] * len(lines)) == len(ARTICLE)
    assert not [r for r in clean_text("\n\n".join(lines), RULES).removed if r["rule"] == "comment_thread"]
