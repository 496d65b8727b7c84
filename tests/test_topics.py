"""Topics: the taxonomy as data, the keyword classifier, and the transform."""
from __future__ import annotations

import apache_beam as beam
import pytest

from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import test_pipeline
from schemas.article import Article
from transforms.errors import TaxonomyError
from transforms.topics import SLUG, AssignTopics, KeywordClassifier, load_taxonomy, parse_taxonomy

TAXONOMY = load_taxonomy()
CLASSIFIER = KeywordClassifier(TAXONOMY)


def test_default_taxonomy_is_the_iptc_top_level_plus_other():
    assert len(TAXONOMY.topics) == 17
    assert TAXONOMY.fallback == "other"
    codes = {t.slug: t.iptc_code for t in TAXONOMY.topics}
    assert codes["politics"] == "medtop:11000000"
    assert codes["economy_business_finance"] == "medtop:04000000"
    assert codes["weather"] == "medtop:17000000"
    assert all(SLUG.match(s) for s in TAXONOMY.slugs)


@pytest.mark.parametrize(
    "title, body, expected",
    [
        ("Striker scores twice as United win the cup final", "The team's coach praised the players after the match.", "sport"),
        ("Central bank raises interest rates", "Inflation and the stock market worried investors; shares fell.", "economy_business_finance"),
        ("Earthquake kills dozens", "Rescuers searched for survivors after the earthquake; the death toll rose.", "disaster_accident"),
        ("Parliament passes budget vote", "The prime minister and opposition lawmakers clashed before the election.", "politics"),
        (None, "A short note with no topical words at all.", "other"),
    ],
)
def test_keyword_classifier(title, body, expected):
    slug, score = CLASSIFIER.classify(title, body)
    assert slug == expected
    assert (score is None) == (expected == "other")
    if score is not None:
        assert 0 < score <= 1


def test_title_hits_weigh_more_and_entities_count():
    scores = CLASSIFIER.scores("Election", "", [{"label": "NORP"}] * 10)
    # title_weight 3 for "election", plus NORP 0.3 x at most entity_cap (5) entities
    assert scores == {"politics": pytest.approx(3 + 0.3 * 5)}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"topics": [{"slug": "Bad Slug", "keywords": ["x"]}]}, "must match"),
        ({"topics": [{"slug": "a", "keywords": ["x"]}, {"slug": "a", "keywords": ["y"]}]}, "used twice"),
        ({"topics": [{"slug": "a"}]}, "neither keywords"),
        ({"topics": []}, "non-empty 'topics'"),
        ({"fallback": "../x", "topics": [{"slug": "a", "keywords": ["x"]}]}, "fallback"),
        ({"topics": [{"slug": "a\n", "keywords": ["x"]}]}, "must match"),  # a slug names a folder
        ({"topics": [{"slug": "a", "keywords": 5}]}, "keywords must be a list"),
        ({"topics": [{"slug": "a", "entity_labels": ["ORG"]}]}, "entity_labels must map"),
        ({"topics": [{"slug": "a", "entity_labels": {"ORG": "heavy"}}]}, "entity label 'ORG' must be a number"),
        ({"min_score": "high", "topics": [{"slug": "a", "keywords": ["x"]}]}, "min_score must be a number"),
        ({"entity_cap": "x", "topics": [{"slug": "a", "keywords": ["x"]}]}, "entity_cap must be a number"),
    ],
)
def test_bad_taxonomies_are_refused(spec, message):
    with pytest.raises(TaxonomyError, match=message):
        parse_taxonomy(spec)


def test_assign_topics_transform():
    articles = [
        Article("a", 1, "0" * 64, title="Cup final", body="The team won the match and the championship."),
        Article("b", 1, "0" * 64, body="Nothing topical."),
    ]
    with test_pipeline() as p:
        out = p | beam.Create(articles) | AssignTopics(TAXONOMY)
        assert_that(
            out.articles | beam.Map(lambda a: (a.source_path, a.topic, a.topic_score, a.topic_scores)),
            equal_to([("a", "sport", 1.0, (("sport", 1.0),)), ("b", "other", None, ())]),
        )


def test_topic_scores_keep_the_best_topics_as_shares():
    result = CLASSIFIER.result("Election", "The parliament vote on the war budget and the army.")
    assert result.topic == "politics"
    assert [slug for slug, _ in result.scores] == ["politics", "conflict_war_peace", "economy_business_finance"]
    assert sum(score for _, score in result.scores) == pytest.approx(1.0, abs=0.001)


def test_unknown_topic_model_is_refused():
    from transforms.topics import load_topic_model

    with pytest.raises(TaxonomyError, match="--topic_model 'magic'"):
        load_topic_model("magic", TAXONOMY)


def test_embeddings_model_needs_the_taxonomy_it_was_trained_for():
    from transforms.topics import load_topic_model

    other = parse_taxonomy({"topics": [{"slug": "cats", "keywords": ["cat"]}]})
    with pytest.raises(TaxonomyError, match="which taxonomy"):
        load_topic_model("embeddings", other)


def test_embeddings_model_on_articles():
    from transforms.topics import load_topic_model

    model = load_topic_model("embeddings", TAXONOMY)
    results = model.classify_batch(
        [
            Article("a", 1, "", title="Rovers win the cup final", body="A late goal sent the team into the final."),
            Article("b", 1, "", body="The central bank raised interest rates as inflation rose and shares fell."),
        ]
    )
    assert [r.topic for r in results] == ["sport", "economy_business_finance"]
    assert all(0 < r.score <= 1 and r.scores[0][0] == r.topic for r in results)
    assert model.version.startswith("embeddings:")


def test_topic_model_by_path(tmp_path):
    import shutil

    from transforms.topic_embeddings import HEAD
    from transforms.topics import load_topic_model

    head = tmp_path / "my_head.npz"
    shutil.copy(HEAD, head)
    model = load_topic_model(str(head), TAXONOMY)
    assert "my_head.npz" in model.version
    with pytest.raises(TaxonomyError, match="no topic head"):
        load_topic_model(str(tmp_path / "missing.npz"), TAXONOMY)


def test_embeddings_cascade_runs_minilm_only_where_the_fast_head_is_unsure(tmp_path):
    import numpy as np

    from transforms import topic_embeddings as te
    from transforms.topics import load_topic_model

    articles = [
        Article("sure", 1, "", title="Rovers win the cup final", body="The striker scored twice as the team won the league title."),
        Article("unsure", 1, "", body="Officials met on Tuesday."),
    ]
    model = load_topic_model("embeddings", TAXONOMY)
    encoded = []
    real_encode = model._minilm.encode
    model._minilm.encode = lambda texts: encoded.append(list(texts)) or real_encode(texts)
    fast = model.probabilities([f"{a.title}\n{a.body}" if a.title else a.body for a in articles])
    assert len(encoded) == 1 and len(encoded[0]) < len(articles), "a confident article still went to MiniLM"
    assert np.allclose(fast.sum(1), 1.0)
    assert "+cascade@" in model.version

    # A head without the fast head (built before the cascade) sends every article to MiniLM.
    head = dict(np.load(te.HEAD))
    old = tmp_path / "old_head.npz"
    np.savez(old, coef=head["coef"], intercept=head["intercept"], classes=head["classes"])
    full = load_topic_model(str(old), TAXONOMY)
    calls = []
    full_encode = full._minilm.encode
    full._minilm.encode = lambda texts: calls.append(len(texts)) or full_encode(texts)
    full.probabilities(["Rovers win the cup final", "Officials met on Tuesday."])
    assert calls == [2] and "cascade" not in full.version


def test_an_article_s_embedding_does_not_depend_on_its_batch_mates():
    # Batched int8 inference scales activations over the batch: the same article in two runs
    # with other neighbours must still get the same vector (and topic, and partition).
    pytest.importorskip("onnxruntime")
    from transforms.topic_embeddings import _MiniLM

    texts = ["The council voted to expand the river flood defences after two winters of damage.",
             "Short one.", "Stocks fell sharply on Tuesday as investors weighed new data on inflation and rates. " * 8]
    encoder = _MiniLM()
    alone = encoder.encode(texts[:1])
    together = encoder.encode(texts)
    assert (alone[0] == together[0]).all()
