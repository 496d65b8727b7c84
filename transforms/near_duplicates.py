"""Exact and near-duplicate fingerprints of cleaned bodies: plain functions, no Beam.

Syndicated news arrives as the same story from several outlets, as a page and its feed record,
or re-wrapped and lightly edited. Two fingerprints find them:

- ``body_sha256``: SHA-256 of the normalised body (Unicode NFKC, case-folded, words only), so
  re-wrapping, spacing and punctuation do not change it: exact duplicates;
- a MinHash signature over word shingles (datasketch), cut into LSH bands (`BANDS` of `ROWS`)
  whose keys collide, with high probability, for bodies whose shingle sets have a Jaccard
  similarity around the threshold or above: near duplicates.

A candidate pair found through a band is kept only when the signatures' estimated Jaccard
similarity reaches the threshold, so band collisions never mark a duplicate on their own.
Signatures are stored as 16-bit values (b-bit MinHash): the estimate's bias is about 2^-16.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata

import numpy as np

#: Permutations of the MinHash signature; 128 gives a similarity estimate within about ±0.035.
NUM_PERM = 128
#: Words per shingle: long enough that two articles on the same event share few shingles.
SHINGLE_WORDS = 5
#: Seed of the permutations; signatures stored in an output are only comparable with the same.
SEED = 1
_WORD = re.compile(r"\w+")


def normalised_words(body: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", body).casefold())


def body_sha256(body: str) -> str:
    """The exact-duplicate key: equal for bodies that differ only in case, spacing or punctuation."""
    return hashlib.sha256(" ".join(normalised_words(body)).encode()).hexdigest()


def shingles(words: list[str], size: int = SHINGLE_WORDS) -> set[bytes]:
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


@functools.lru_cache(maxsize=8)
def _template(num_perm: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=SEED)


#: LSH bands and rows per band, the same whatever the threshold (the signatures an output keeps
#: stay comparable when --near_dup_threshold changes): 16 bands of 8 find a pair of similarity
#: 0.8 with probability 1-(1-0.8^8)^16 = 0.95, 0.7 with 0.62; the threshold is applied to the
#: estimated similarity of every candidate pair.
BANDS, ROWS = 16, 8


def band_layout(num_perm: int = NUM_PERM) -> tuple[int, int]:
    if BANDS * ROWS != num_perm:
        raise ValueError(f"{BANDS} bands of {ROWS} need {BANDS * ROWS} permutations, not {num_perm}")
    return BANDS, ROWS


def signature(body: str, num_perm: int = NUM_PERM) -> np.ndarray:
    """The MinHash signature of a body's word shingles, as 16-bit values (b-bit MinHash)."""
    minhash = _template(num_perm).copy()
    minhash.update_batch(sorted(shingles(normalised_words(body))))
    return (minhash.hashvalues & 0xFFFF).astype(np.uint16)


def band_keys(sig: np.ndarray) -> list[int]:
    """One signed 64-bit key per LSH band (the band's number is part of the key)."""
    bands, rows = band_layout(len(sig))
    keys = []
    for band in range(bands):
        digest = hashlib.blake2b(sig[band * rows : (band + 1) * rows].tobytes(), digest_size=8, person=b"band%04d" % band).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def exact_key(sha: str) -> int:
    """The band-like key under which bodies with the same ``body_sha256`` always meet."""
    return int.from_bytes(bytes.fromhex(sha[:16]), "big", signed=True)


def similarity(a: bytes | np.ndarray, b: bytes | np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (arrays or their ``tobytes()``)."""
    x = np.frombuffer(a, np.uint16) if isinstance(a, bytes) else a
    y = np.frombuffer(b, np.uint16) if isinstance(b, bytes) else b
    return float(np.count_nonzero(x == y)) / len(x)


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """What duplicate detection needs of an article; small enough to shuffle."""

    article_id: str
    source_id: str
    body_sha256: str
    signature: bytes
    keys: tuple[int, ...]

    @classmethod
    def of(cls, article_id: str, source_id: str, body: str) -> "Fingerprint":
        sha = body_sha256(body)
        sig = signature(body)
        return cls(article_id, source_id, sha, sig.tobytes(), (exact_key(sha), *band_keys(sig)))

    def similarity_to(self, other: "Fingerprint") -> float:
        return 1.0 if other.body_sha256 == self.body_sha256 else similarity(self.signature, other.signature)


def rank(candidate: tuple[Fingerprint, bool]) -> tuple[bool, str]:
    """Which of two copies came first: one committed by an earlier run, then the lower source id."""
    fp, committed = candidate
    return (not committed, fp.source_id)


def first_copy(
    article: Fingerprint, ranked: list[tuple[Fingerprint, bool]], threshold: float
) -> tuple[Fingerprint, float, bool] | None:
    """The copy that ``article`` duplicates, or None: the first of the ``ranked`` candidates
    (sorted by `rank`; True marks one committed by an earlier run) that came before it and is at
    least ``threshold`` similar. Stops at the first, so a big bucket of copies costs one
    comparison per article when its first copy is the bucket's first."""
    own = rank((article, False))
    for other, committed in ranked:
        if not committed and rank((other, committed)) >= own:
            break
        if other.article_id == article.article_id:
            continue
        sim = article.similarity_to(other)
        if sim >= threshold:
            return other, sim, committed
    return None
