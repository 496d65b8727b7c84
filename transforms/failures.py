"""Dead letters: every input that does not become a row becomes a `Rejection` with a reason.

Stages raise `ArticleRejected` (or let any other exception escape from their pure
functions); `run_guarded` turns either into a `Rejection` on the ``rejected`` output, so a
bad file never crashes the run and is never dropped silently. `WriteRejections` lands them
as JSON lines under ``<output>/_rejected/``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
from typing import Any, Callable, Iterable, Iterator, Sequence

import apache_beam as beam
import fsspec

from transforms import errors
from transforms.errors import ArticleRejected
from transforms.windows import window_suffix

REJECTED = "rejected"
_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Rejection:
    source_path: str
    stage: str
    error_type: str
    message: str
    content_sha256: str | None = None
    #: 1-based line of a JSON Lines file, for a rejected record inside a file.
    source_line: int | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)


def rejection(
    stage: str, source_path: str, exc: BaseException, content_sha256: str | None = None, source_line: int | None = None
) -> Rejection:
    if isinstance(exc, ArticleRejected):
        error_type = exc.error_type
    else:
        # An unexpected failure: keep the exception class so it can be found and fixed.
        error_type = f"{errors.UNEXPECTED}:{type(exc).__name__}"
    return Rejection(source_path, stage, error_type, str(exc)[:2000], content_sha256, source_line)


def run_guarded(stage: str, article: Any, fn: Callable[[Any], Iterable[Any]]) -> Iterator[Any]:
    """Stream fn(article)'s outputs; if it raises, end with one tagged `Rejection` instead.

    Outputs yielded before the failure stand (a JSON Lines file's good lines before a read
    error), so every output and the rejection together account for the input.
    """
    try:
        yield from fn(article)
    except Exception as exc:  # noqa: BLE001 - the point is to catch everything per element
        if not isinstance(exc, ArticleRejected):
            _LOG.warning("%s failed on %s", stage, getattr(article, "source_path", article), exc_info=True)
        yield beam.pvalue.TaggedOutput(
            REJECTED,
            rejection(
                stage,
                getattr(article, "source_path", str(article)),
                exc,
                getattr(article, "content_sha256", None),
                getattr(article, "source_line", None),
            ),
        )


def batch_or_one_by_one(stage: str, batch: Sequence[Any], run: Callable[[Sequence[Any]], list[Any]]) -> Iterator[Any]:
    """``run(batch)``'s results (one per element, in order); if the batch fails, each element
    again alone, so one bad article is rejected (`run_guarded`) without taking its batch down."""
    try:
        results = run(batch)
    except Exception:  # noqa: BLE001 - find the element that fails
        _LOG.warning("%s failed on a batch of %d; retrying one by one", stage, len(batch), exc_info=True)
        for element in batch:
            yield from run_guarded(stage, element, lambda e: run([e]))
        return
    yield from results


class _WriteRejectionsFn(beam.DoFn):
    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id

    def process(self, keyed: tuple[str, Iterable[Rejection]], window=beam.DoFn.WindowParam) -> Iterator[str]:
        stage, rejections = keyed
        name = f"{self._run_id}.{stage}{window_suffix(window)}.jsonl"
        path = posixpath.join(self._output.rstrip("/"), "_rejected", name)
        with fsspec.open(path, "w", encoding="utf-8", auto_mkdir=True) as out:
            for rej in rejections:
                out.write(rej.to_json() + "\n")
        yield path


class WriteRejections(beam.PTransform):
    """One JSON-lines file per stage, run and window: ``_rejected/<run_id>.<stage>.jsonl``
    (plus the window's bounds, for windows other than the global one)."""

    def __init__(self, output: str, run_id: str):
        super().__init__()
        self._output = output
        self._run_id = run_id

    def expand(self, rejections):
        return (
            rejections
            | "ByStage" >> beam.WithKeys(lambda r: r.stage)
            | "Group" >> beam.GroupByKey()
            | "WriteJsonl" >> beam.ParDo(_WriteRejectionsFn(self._output, self._run_id))
        )
