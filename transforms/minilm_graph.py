"""The ONNX graph of all-MiniLM-L6-v2, built from the weights the package index ships (no torch).

Run once per machine, through the cache (`transforms/cache.py`), by the first worker that needs
the embeddings topic model; the cached file is named by the weights' digest, so other weights
never reuse an old graph. Only the build lives here; `transforms/topic_embeddings.py` runs it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def build_minilm_onnx(weights: Path, out_path: Path) -> None:
    """Write an int8 (from fp32) ONNX graph of all-MiniLM-L6-v2 (6-layer BERT) from its safetensors ``weights``."""
    import onnx
    from onnx import TensorProto as TP
    from onnx import helper as h
    from onnx import numpy_helper as nh
    from safetensors.numpy import load_file

    w = {k.replace("bert.", ""): v.astype(np.float32) for k, v in
         load_file(str(weights)).items()}
    L, H, D = 6, 12, 384; hd = D // H
    inits, nodes = [], []
    def init(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name)); return name
    cnt = [0]
    def n(op, ins, **kw):
        cnt[0] += 1; o = f"{op}_{cnt[0]}"
        nodes.append(h.make_node(op, ins, [o], **kw)); return o

    init("word", w["embeddings.word_embeddings.weight"])
    init("pos", w["embeddings.position_embeddings.weight"])
    init("tt0", w["embeddings.token_type_embeddings.weight"][0])
    init("zero_i", np.array([0], np.int64)); init("one_i", np.array([1], np.int64))
    init("shape_bthd", np.array([0, 0, H, hd], np.int64)); init("shape_btd", np.array([0, 0, D], np.int64))
    init("scale", np.array(1.0 / np.sqrt(hd), np.float32)); init("neg", np.array(-1e4, np.float32))
    init("onef", np.array(1.0, np.float32)); init("sqrt2", np.array(np.sqrt(2.0), np.float32)); init("half", np.array(0.5, np.float32))

    x = n("Gather", ["word", "input_ids"])
    shp = n("Shape", ["input_ids"]); T = n("Slice", [shp, "one_i", "two_i"]) ; init("two_i", np.array([2], np.int64))
    posids = n("Range", [n("Squeeze", ["zero_i"]), n("Squeeze", [T]), n("Squeeze", ["one_i"])])
    x = n("Add", [x, n("Gather", ["pos", posids])]); x = n("Add", [x, "tt0"])
    def ln(x, g, b):
        return n("LayerNormalization", [x, init(g + "_g", w[g + ".weight"]), init(b + "_b", w[b + ".bias"])], axis=-1, epsilon=1e-12)
    x = ln(x, "embeddings.LayerNorm", "embeddings.LayerNorm")
    # mask [B,1,1,T]
    m = n("Cast", ["attention_mask"], to=TP.FLOAT)
    m = n("Mul", [n("Sub", ["onef", m]), "neg"])
    m = n("Unsqueeze", [m, init("ax12", np.array([1, 2], np.int64))])
    def lin(x, name):
        W = init(name + ".W", w[name + ".weight"].T.copy()); B = init(name + ".B", w[name + ".bias"])
        return n("Add", [n("MatMul", [x, W]), B])
    for l in range(L):
        p = f"encoder.layer.{l}."
        def heads(t, perm):
            return n("Transpose", [n("Reshape", [t, "shape_bthd"])], perm=perm)
        q = heads(lin(x, p + "attention.self.query"), [0, 2, 1, 3])
        k = heads(lin(x, p + "attention.self.key"), [0, 2, 3, 1])
        v = heads(lin(x, p + "attention.self.value"), [0, 2, 1, 3])
        a = n("Add", [n("Mul", [n("MatMul", [q, k]), "scale"]), m])
        a = n("Softmax", [a], axis=-1)
        c = n("Reshape", [n("Transpose", [n("MatMul", [a, v])], perm=[0, 2, 1, 3]), "shape_btd"])
        x = ln(n("Add", [lin(c, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm", p + "attention.output.LayerNorm")
        hh = lin(x, p + "intermediate.dense")
        g = n("Mul", [n("Mul", [hh, "half"]), n("Add", [n("Erf", [n("Div", [hh, "sqrt2"])]), "onef"])])
        x = ln(n("Add", [lin(g, p + "output.dense"), x]), p + "output.LayerNorm", p + "output.LayerNorm")
    nodes.append(h.make_node("Identity", [x], ["last_hidden_state"]))
    graph = h.make_graph(nodes, "minilm",
        [h.make_tensor_value_info("input_ids", TP.INT64, ["B", "T"]), h.make_tensor_value_info("attention_mask", TP.INT64, ["B", "T"])],
        [h.make_tensor_value_info("last_hidden_state", TP.FLOAT, ["B", "T", D])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    fp32 = Path(str(out_path) + ".fp32")
    onnx.save(model, str(fp32))
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel int8 on the MatMuls only: per-tensor (the default) drifts to cosine 0.95.
        quantize_dynamic(str(fp32), str(out_path), op_types_to_quantize=["MatMul"], per_channel=True, weight_type=QuantType.QInt8)
    finally:
        fp32.unlink(missing_ok=True)
