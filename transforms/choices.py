"""Defaults and choices of stage settings that the command line offers.

Kept apart from the stages so that ``--help`` and option parsing import neither Beam's stages
nor spaCy.
"""
from __future__ import annotations

#: spaCy labels kept in ``entities``: numbers, dates, money and the like are not entities here.
DEFAULT_ENTITY_LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT", "LAW", "WORK_OF_ART")
#: What multiplies the matrices of spaCy's layers (``--ner_gemm``).
NER_GEMM = ("numpy", "blis")
#: Articles larger than this (after decompression) are rejected unread (``--max_article_bytes``).
DEFAULT_MAX_ARTICLE_BYTES = 2_000_000
