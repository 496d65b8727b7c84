"""Realistic generated corpora for the benchmark and the crash tests."""
from __future__ import annotations

import pathlib
import random

REPO = pathlib.Path(__file__).resolve().parent.parent

TAILS = [
    "Share post:\n\nPopular\n\nRelated\n\nStolen Car With Child Inside Found Quickly\n\nA child who was inside a car stolen in...",
    "*Jane Roe is a lecturer in politics at Example University.\n\nThis article was originally published in The Conversation",
    "Do you use more Facebook? Follow us to always be informed",
    "",
]


def source_texts() -> list[str]:
    texts = [p.read_text("utf-8") for p in sorted((REPO / "samples" / "incoming").glob("*.txt"))]
    gold_dir = REPO / "tests" / "data" / "eval" / "cleaning"
    texts += [p.read_text("utf-8") for p in sorted(gold_dir.glob("*.gold.txt")) if len(p.read_text("utf-8")) > 1500]
    return texts


def build_corpus(directory: pathlib.Path, n: int, seed: int = 7, copies: float | None = None) -> list[pathlib.Path]:
    """N article files: paragraphs of real articles, reshuffled per file, with a unique lead line.

    The files cycle through about 150 source articles, so most are near copies of an earlier
    one. ``copies``: the share of files left that way; the others get one word in four
    replaced, which makes them distinct articles to a duplicate detector (a news feed has
    some copies, not a majority).
    """
    rng = random.Random(seed)
    texts = source_texts()
    paths = []
    for i in range(n):
        paragraphs = [p for p in texts[i % len(texts)].replace("\r", "").split("\n") if p.strip()]
        if copies is not None and i >= len(texts) and rng.random() >= copies:
            paragraphs = [_reworded(p, rng) for p in paragraphs]
        body = paragraphs[:1] + rng.sample(paragraphs[1:], len(paragraphs) - 1)
        lead = f"Report {i}: officials in region {rng.randint(1, 999)} said on day {rng.randint(1, 28)} that talks continued."
        text = "\n\n".join([lead, *body]) + "\n\n" + TAILS[i % len(TAILS)]
        path = directory / f"{i // 100:03d}" / f"article_{i:06d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        paths.append(path)
    return paths


def _reworded(paragraph: str, rng: random.Random) -> str:
    return " ".join(w if rng.random() >= 0.25 else rng.choice(_WORDS) for w in paragraph.split())


_WORDS = "council market river season report minister harbour village league budget court energy".split()
