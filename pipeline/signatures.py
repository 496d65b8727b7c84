"""The committed articles' duplicate-detection signatures, as the duplicate stage asks for them.

The stage (`transforms.duplicates`) writes a signature file per bundle into the run's staging
(``_index/minhash-*.parquet``); the publish moves them in with the data. A signature stays in the index
after its article leaves the dataset (replaced by a changed input, removed by a rebuild or an
overwrite), so a candidate counts only while the committed-input index still says its input was
written with exactly that content (`alive`).
"""
from __future__ import annotations

import posixpath
from typing import Iterable, Sequence

from pipeline import ledger
from pipeline.publish import DatasetOutput
from schemas.article import article_id, canonical_source_id
from transforms.duplicates import SIGNATURES
from transforms.near_duplicates import Fingerprint


class OutputSignatures:
    """`transforms.duplicates.CommittedSignatures` of one output; picklable (holds its URL)."""

    def __init__(self, url: str):
        self._url = url
        self._output: DatasetOutput | None = None

    def __getstate__(self):
        return {"_url": self._url, "_output": None}

    @property
    def output(self) -> DatasetOutput:
        if self._output is None:
            self._output = DatasetOutput(self._url)
        return self._output

    def parts(self) -> Sequence[str]:
        out = self.output
        return sorted(out.url_of(p) for p in out.fs.glob(posixpath.join(out.root, SIGNATURES)))

    def alive(self, candidates: Sequence[Fingerprint]) -> Iterable[Fingerprint]:
        entries = ledger.entries_of(self.output.index_batches(), source_ids=[fp.source_id for fp in candidates])
        for fp in candidates:
            entry = entries.get(canonical_source_id(fp.source_id))
            if entry and entry.outcome == ledger.WRITTEN and entry.content_sha256 and article_id(fp.source_id, entry.content_sha256) == fp.article_id:
                yield fp
