"""What a topic model is to the topic stage: its result per article and the interface
`AssignTopics` calls. Concrete models (`transforms/topics.py`'s keyword classifier,
`transforms/topic_embeddings.py`) implement it."""
from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

from schemas.article import Article

#: How many of the best topics an article keeps in ``topic_scores``.
TOP_SCORES = 5


@dataclasses.dataclass(frozen=True)
class TopicResult:
    topic: str
    score: float | None
    #: The best topics and their scores, best first (the model's own scale, 0..1).
    scores: tuple[tuple[str, float], ...]


class TopicModel(Protocol):
    """What `AssignTopics` needs of a topic model; chosen by ``--topic_model``."""

    name: str
    version: str

    def classify_batch(self, articles: Sequence[Article]) -> list[TopicResult]: ...
