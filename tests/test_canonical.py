"""Canonical entities: cleaning mentions, short names to full names, label votes, aliases."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import sample
from transforms.canonical import canonicalise, clean_mention, load_aliases
from transforms.clean import clean_text, load_rules


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("the Kremlin", "Kremlin"),
        ("Putin’s", "Putin"),
        ("“Xi Jinping”", "Xi Jinping"),
        ("the European Union’s", "European Union"),
        ("Kim Jong‑un", "Kim Jong-un"),
        ("  North   Korea's ", "North Korea"),
        ("Theresa May", "Theresa May"),
    ],
)
def test_clean_mention(raw, clean):
    assert clean_mention(raw) == clean


def _m(text, label, start=0):
    return {"text": text, "label": label, "start_char": start, "end_char": start + len(text)}


def test_short_mentions_take_the_articles_full_name_and_labels_are_voted():
    mentions = [
        _m("Vladimir Putin", "PERSON"), _m("Putin", "PERSON"), _m("Putin’s", "ORG"), _m("Putin", "PERSON"),
        _m("Xi Jinping", "PERSON"), _m("XI", "ORG"), _m("Trump", "ORG"), _m("Donald Trump", "PERSON"),
        _m("Trump", "PERSON"), _m("2024", "DATE"), _m("15,000", "CARDINAL"),
    ]  # fmt: skip
    out, summary = canonicalise(mentions)
    assert [m["canonical"] for m in out] == [
        "Vladimir Putin", "Vladimir Putin", "Vladimir Putin", "Vladimir Putin", "Xi Jinping", "Xi Jinping",
        "Donald Trump", "Donald Trump", "Donald Trump",
    ]  # fmt: skip
    assert summary == (
        {"name": "Vladimir Putin", "label": "PERSON", "mentions": 4},
        {"name": "Donald Trump", "label": "PERSON", "mentions": 3},
        {"name": "Xi Jinping", "label": "PERSON", "mentions": 2},
    )


def test_ambiguous_short_names_stay_as_they_are():
    out, _ = canonicalise([_m("Kim Jong Un", "PERSON"), _m("Youngjun Kim", "PERSON"), _m("Kim", "PERSON")])
    assert out[2]["canonical"] == "Kim"
    out, _ = canonicalise([_m("Kim Jong Un", "PERSON"), _m("Kim", "PERSON")])
    assert out[1]["canonical"] == "Kim Jong Un"


def test_labels_are_chosen_and_aliases_apply(tmp_path):
    aliases_file = tmp_path / "aliases.yaml"
    aliases_file.write_text("United States: [US, U.S., USA, the States]\nXi Jinping: [President Xi]\n")
    aliases = load_aliases(str(aliases_file))
    out, summary = canonicalise(
        [_m("US", "GPE"), _m("U.S.", "GPE"), _m("President Xi", "PERSON"), _m("Monday", "DATE")],
        labels=("GPE", "PERSON"),
        aliases=aliases,
    )
    assert [m["canonical"] for m in out] == ["United States", "United States", "Xi Jinping"]
    assert summary[0] == {"name": "United States", "label": "GPE", "mentions": 2}
    clash = tmp_path / "clash.yaml"
    clash.write_text("A: [x]\nB: [x]\n")
    with pytest.raises(ValueError, match="given to both"):
        load_aliases(str(clash))


@pytest.fixture(scope="module")
def real_nlp():
    from transforms.entities import default_model, load_ner

    return load_ner(default_model())


def _summary_of(prefix, nlp):
    from transforms.entities import entities_of

    body = clean_text(sample(prefix), load_rules()).body
    mentions, summary = canonicalise(entities_of(nlp(body)))
    return body, mentions, [(s["name"], s["label"], s["mentions"]) for s in summary]


def _consistent(mentions, summary):
    """What holds for any model build: one row per canonical name, its label voted, counts that
    add up, busiest first, no numbers or dates."""
    names = [name for name, _, _ in summary]
    assert len(names) == len(set(names))
    assert sum(n for _, _, n in summary) == len(mentions)
    assert [n for _, _, n in summary] == sorted((n for _, _, n in summary), reverse=True)
    assert all(label not in {"DATE", "CARDINAL", "ORDINAL", "MONEY", "PERCENT"} for _, label, _ in summary)
    for name, label, count in summary:
        labels = [m["label"] for m in mentions if m["canonical"] == name]
        assert len(labels) == count and labels.count(label) * 2 >= count  # the majority (or a tie)


def test_sample_000_summary(real_nlp):
    body, mentions, summary = _summary_of("000", real_nlp)
    _consistent(mentions, summary)
    names = [name for name, _, _ in summary]
    assert {"Russia", "China"} <= set(names[:5])
    # Short mentions take the article's one full name...
    assert "Vladimir Putin" in names and "Putin" not in names
    assert {m["canonical"] for m in mentions if m["text"] == "Putin"} <= {"Vladimir Putin"}
    # ...but "Kim" stays as it is: the article names both Kim Jong Un and analyst Youngjun Kim.
    assert {"Kim Jong Un", "Youngjun Kim"} <= set(names)
    assert {m["canonical"] for m in mentions if m["text"] == "Kim"} <= {"Kim"}


def test_sample_002_summary(real_nlp):
    body, mentions, summary = _summary_of("002", real_nlp)
    _consistent(mentions, summary)
    names = [name for name, _, _ in summary]
    assert {"China", "Beijing"} <= set(names[:3])
    assert {"Xi Jinping", "Xi"} <= {m["text"] for m in mentions if m["canonical"] == "Xi Jinping"}
    assert "Xi" not in names


NAMES = ["Xi Jinping", "Xi", "Vladimir Putin", "Putin", "Beijing", "FIFA"]
WORDS = st.sampled_from(["the", "talks", "said", "on", "Monday", "and", "“", "”", "’s", ",", "—", "in", "a", "city"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(WORDS, st.sampled_from(NAMES)), min_size=1, max_size=40))
def test_offsets_always_slice_the_body_to_the_mention(ruler_nlp, tokens):
    from transforms.entities import entities_of

    body = " ".join(tokens)
    mentions, summary = canonicalise(entities_of(ruler_nlp(body)))
    for mention in mentions:
        assert body[mention["start_char"] : mention["end_char"]] == mention["text"]
        assert mention["canonical"]
    assert sum(row["mentions"] for row in summary) == len(mentions)


@pytest.fixture(scope="module")
def ruler_nlp(ruler_model):
    import spacy

    return spacy.load(ruler_model)
