"""Topic stage: one topic slug per article from a taxonomy that is data.

The default taxonomy (`rules/iptc_topics.yaml`) is the top level of IPTC Media Topics; a
user's own file replaces it with ``--topics``. This first classifier is honest and simple:
keyword hits (title weighted) plus entity-label weights; the winner must reach
``min_score`` or the article goes to the fallback topic, never to a guess.
"""
from __future__ import annotations

import dataclasses
import math
import os
import hashlib
import re
import threading
from collections import Counter
from typing import Any, Callable, Iterator, Sequence

import apache_beam as beam

from schemas.article import Article
from transforms import per_process
from transforms.datafiles import parse_yaml, read_text
from transforms.errors import EmbeddingsUnavailable, TaxonomyError
from transforms.failures import REJECTED, batch_or_one_by_one
from transforms.package_data import rules_file
from transforms.topic_embeddings import HEAD, EmbeddingTopicModel
from transforms.topic_model import TOP_SCORES, TopicModel, TopicResult

SLUG = re.compile(r"[a-z0-9_]+")  # whole slugs only (fullmatch): it names a partition folder
_WORD = re.compile(r"\w+")


@dataclasses.dataclass(frozen=True)
class Topic:
    slug: str
    label: str
    iptc_code: str | None
    keywords: tuple[str, ...]
    entity_labels: tuple[tuple[str, float], ...]


@dataclasses.dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    fallback: str
    min_score: float
    title_weight: float
    entity_cap: int
    topics: tuple[Topic, ...]

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics) + (self.fallback,)


def load_taxonomy(path: str | None = None) -> Taxonomy:
    """Parse and validate a taxonomy file (the packaged IPTC one when path is None)."""
    if path is None:
        text = rules_file("iptc_topics.yaml").read_text("utf-8")
        path = "<packaged iptc_topics.yaml>"
    else:
        text = read_text(path)
    return parse_taxonomy(parse_yaml(text, path), path)


def _number(value: Any, what: str) -> float:
    """A finite number from the taxonomy file, or a `TaxonomyError` that says where."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TaxonomyError(f"{what} must be a number, not {value!r}")
    return float(value)


def parse_taxonomy(spec: Any, source: str = "<taxonomy>") -> Taxonomy:
    if not isinstance(spec, dict) or not isinstance(spec.get("topics"), list) or not spec["topics"]:
        raise TaxonomyError(f"{source}: expected a mapping with a non-empty 'topics' list")
    fallback = str(spec.get("fallback", "other"))
    topics, seen = [], {fallback}
    for i, raw in enumerate(spec["topics"]):
        slug = str(raw.get("slug", "")) if isinstance(raw, dict) else ""
        if not SLUG.fullmatch(slug):
            raise TaxonomyError(f"{source}: topic #{i + 1}: slug {slug!r} must match [a-z0-9_]+")
        if slug in seen:
            raise TaxonomyError(f"{source}: topic #{i + 1}: slug {slug!r} is used twice (or is the fallback)")
        seen.add(slug)
        if not isinstance(raw.get("keywords") or [], list):
            raise TaxonomyError(f"{source}: topic {slug!r}: keywords must be a list, not {raw['keywords']!r}")
        if not isinstance(raw.get("entity_labels") or {}, dict):
            raise TaxonomyError(f"{source}: topic {slug!r}: entity_labels must map labels to weights (ORG: 1.0), not {raw['entity_labels']!r}")
        keywords = tuple(str(k).lower().strip() for k in raw.get("keywords") or () if str(k).strip())
        weights = tuple((str(k), _number(v, f"{source}: topic {slug!r}: entity label {k!r}")) for k, v in (raw.get("entity_labels") or {}).items())
        if not keywords and not weights:
            raise TaxonomyError(f"{source}: topic {slug!r} has neither keywords nor entity_labels")
        topics.append(Topic(slug, str(raw.get("label", slug)), raw.get("iptc_code"), keywords, weights))
    if not SLUG.fullmatch(fallback):
        raise TaxonomyError(f"{source}: fallback {fallback!r} must match [a-z0-9_]+")
    return Taxonomy(
        name=str(spec.get("name", source)),
        version=str(spec.get("version", "unversioned")),
        fallback=fallback,
        min_score=_number(spec.get("min_score", 3), f"{source}: min_score"),
        title_weight=_number(spec.get("title_weight", 3), f"{source}: title_weight"),
        entity_cap=int(_number(spec.get("entity_cap", 5), f"{source}: entity_cap")),
        topics=tuple(topics),
    )


def load_topic_model(spec: str, taxonomy: Taxonomy, check_only: bool = False) -> TopicModel:
    """A model by name (see TOPIC_MODELS), or the path of an embeddings head (.npz) trained
    by ``training/topics/build_model.py`` for the taxonomy in use. ``check_only``: check that
    everything it needs is there and learn its version, without loading the encoders (the
    driver does this to fail fast; workers load the model)."""
    if spec == "embeddings" or (spec not in TOPIC_MODELS and (spec.endswith(".npz") or os.path.isfile(spec))):
        return _embeddings(taxonomy, None if spec == "embeddings" else spec, check_only)
    if spec in TOPIC_MODELS:
        return TOPIC_MODELS[spec](taxonomy)
    raise TaxonomyError(f"--topic_model {spec!r}: choose one of {sorted(TOPIC_MODELS)}, or the path of a .npz head")


class KeywordClassifier:
    """Scores every topic with one pass over the words of the title and of the body.

    Keywords are matched as word n-grams in a dict, not with a regex alternation: a regex of
    hundreds of alternatives costs many times what the lookups cost.
    """

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self._topics_of: dict[tuple[str, ...], list[str]] = {}
        for topic in taxonomy.topics:
            for keyword in topic.keywords:
                words = tuple(_WORD.findall(keyword.lower()))
                if words:
                    self._topics_of.setdefault(words, []).append(topic.slug)
        self._longest = max((len(k) for k in self._topics_of), default=1)

    def _hits(self, text: str) -> Iterator[tuple[str, ...]]:
        """Keyword n-grams in the text, longest match first, without overlaps."""
        words = _WORD.findall(text.lower())
        i = 0
        while i < len(words):
            for n in range(min(self._longest, len(words) - i), 0, -1):
                gram = tuple(words[i : i + n])
                if gram in self._topics_of:
                    yield gram
                    i += n
                    break
            else:
                i += 1

    def scores(self, title: str | None, body: str, entities: Sequence[dict[str, Any]] = ()) -> dict[str, float]:
        scores: Counter[str] = Counter()
        for text, weight in ((title or "", self.taxonomy.title_weight), (body, 1.0)):
            for hit in self._hits(text):
                for slug in self._topics_of[hit]:
                    scores[slug] += weight
        labels = Counter(e["label"] for e in entities)
        for topic in self.taxonomy.topics:
            for label, weight in topic.entity_labels:
                if labels[label]:
                    scores[topic.slug] += weight * min(labels[label], self.taxonomy.entity_cap)
        return dict(scores)

    def classify(self, title: str | None, body: str, entities: Sequence[dict[str, Any]] = ()) -> tuple[str, float | None]:
        """(slug, share of all topic evidence that the winner holds); fallback gets no score."""
        result = self.result(title, body, entities)
        return result.topic, result.score

    def result(self, title: str | None, body: str, entities: Sequence[dict[str, Any]] = ()) -> "TopicResult":
        scores = self.scores(title, body, entities)
        total = sum(scores.values())
        order = {t.slug: i for i, t in enumerate(self.taxonomy.topics)}
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))
        shares = tuple((slug, round(value / total, 4)) for slug, value in ranked[:TOP_SCORES])
        if not ranked or ranked[0][1] < self.taxonomy.min_score:
            return TopicResult(self.taxonomy.fallback, None, shares)
        return TopicResult(ranked[0][0], shares[0][1], shares)

    # The TopicModel interface.
    name = "keywords"

    @property
    def version(self) -> str:
        return f"keywords:{self.taxonomy.name}@{self.taxonomy.version}"

    def classify_batch(self, articles: Sequence[Article]) -> list["TopicResult"]:
        return [self.result(a.title, a.body or "", a.entities) for a in articles]


def _embeddings(taxonomy: Taxonomy, head: str | None = None, check_only: bool = False) -> TopicModel:
    try:
        return EmbeddingTopicModel(taxonomy, head or HEAD, load_encoders=not check_only)
    except EmbeddingsUnavailable as exc:
        raise TaxonomyError(f"embeddings: {exc}") from exc


TOPIC_MODELS: dict[str, Callable[[Taxonomy], TopicModel]] = {"keywords": KeywordClassifier, "embeddings": _embeddings}


def with_topic(article: Article, result: TopicResult) -> Article:
    return dataclasses.replace(article, topic=result.topic, topic_score=result.score, topic_scores=result.scores)


class SharedTopicModel:
    """The topic model of one worker process, shared by its threads through `Shared` and loaded
    at the first batch (a run with nothing to process loads nothing), used under a lock."""

    def __init__(self, spec: str, taxonomy: Taxonomy):
        self._spec, self._taxonomy = spec, taxonomy
        self._model: TopicModel | None = None
        self.lock = threading.Lock()

    def get(self) -> TopicModel:
        if self._model is None:
            self._model = load_topic_model(self._spec, self._taxonomy)
        return self._model


def shared_topic_model(spec: str, taxonomy: Taxonomy) -> SharedTopicModel:
    """This process's `SharedTopicModel` for this model and taxonomy (the topic stage's own)."""
    tag = f"{spec}:{hashlib.sha256(repr(taxonomy).encode()).hexdigest()}"
    return per_process.acquire(f"topics:{tag}", lambda: SharedTopicModel(spec, taxonomy))


def preload(spec: str, taxonomy: Taxonomy) -> None:
    """Load the topic stage's model in this process now rather than at its first batch."""
    shared = shared_topic_model(spec, taxonomy)
    with shared.lock:
        shared.get()


class _TopicFn(beam.DoFn):
    def __init__(self, taxonomy: Taxonomy, model: str):
        self._taxonomy = taxonomy
        self._model_spec = model

    def setup(self) -> None:
        self._models = shared_topic_model(self._model_spec, self._taxonomy)

    def process(self, batch: Sequence[Article]) -> Iterator[Any]:
        with self._models.lock:  # the outputs go downstream after the lock is released
            model = self._models.get()
            results = list(batch_or_one_by_one("topics", batch, lambda articles: self._classify(model, articles)))
        yield from results

    @staticmethod
    def _classify(model: TopicModel, articles: Sequence[Article]) -> list[Article]:
        return [with_topic(a, result) for a, result in zip(articles, model.classify_batch(articles))]


class AssignTopics(beam.PTransform):
    """Articles -> articles with ``topic``, ``topic_score``, ``topic_scores`` (main) and rejections."""

    def __init__(self, taxonomy: Taxonomy | None = None, model: str = "keywords", max_batch_size: int = 64):
        super().__init__()
        self._taxonomy = taxonomy or load_taxonomy()
        self._model = model
        self._max_batch_size = max_batch_size

    def expand(self, articles):
        return (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._max_batch_size)
            | "Classify" >> beam.ParDo(_TopicFn(self._taxonomy, self._model)).with_outputs(REJECTED, main="articles")
        )
