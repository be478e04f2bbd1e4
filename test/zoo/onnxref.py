"""A tiny numpy interpreter for the ONNX ops that torch 1.13 exports for the zoo's models.

Used by `zoo.py --selftest` to check, without onnxruntime, that each exported graph computes the
same function as its PyTorch module, and (in float64) that finite differences taken on an ONNX
initializer agree with the gradient norm the oracle reports for it. Not fast, not general: an op
or attribute it does not know raises.
"""

import math

import numpy as np
import onnx
from onnx import numpy_helper

_DTYPES = {
    onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.INT64: np.int64, onnx.TensorProto.INT32: np.int32, onnx.TensorProto.BOOL: np.bool_,
}
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _float(a, f64):
    return a.astype(np.float64) if f64 and a.dtype == np.float32 else a


def _idiv(a, b):
    q = np.abs(a) // np.abs(b)
    return (q * np.sign(a) * np.sign(b)).astype(a.dtype)


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        n = x.shape[ax]
        s, e = int(s), int(e)
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        idx[ax] = slice(s, e, int(st))
    return x[tuple(idx)]


def _layernorm(x, scale, bias, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return ((x - mu) / np.sqrt(var + eps)).astype(x.dtype) * scale + (bias if bias is not None else 0)


def _softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def _run(op, a, x, f64):
    """One node: a = attributes, x = inputs (None for an absent optional input); returns a list of outputs."""
    if op == "Identity":
        return [x[0]]
    if op == "Constant":
        return [_float(numpy_helper.to_array(a["value"]), f64)]
    if op == "ConstantOfShape":
        v = _float(numpy_helper.to_array(a["value"]), f64) if "value" in a else np.zeros(1, np.float32)
        return [np.full(tuple(int(s) for s in x[0]), v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Shape":
        return [np.array(x[0].shape, dtype=np.int64)]
    if op == "Cast":
        t = _DTYPES[a["to"]]
        return [x[0].astype(np.float64 if f64 and t == np.float32 else t)]
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal"):
        p, q = x
        if op == "Div" and np.issubdtype(p.dtype, np.integer):
            return [_idiv(p, q)]
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
             "Pow": np.power, "Equal": np.equal}[op]
        r = f(p, q)
        return [r if op == "Equal" else r.astype(p.dtype)]
    if op == "Where":
        return [np.where(x[0], x[1], x[2]).astype(np.result_type(x[1], x[2]))]
    if op in ("Sqrt", "Tanh", "Relu", "Sigmoid", "Erf"):
        v = x[0]
        f = {"Sqrt": np.sqrt, "Tanh": np.tanh, "Relu": lambda t: np.maximum(t, 0),
             "Sigmoid": lambda t: 1 / (1 + np.exp(-t)), "Erf": _erf}[op]
        return [f(v).astype(v.dtype)]
    if op == "MatMul":
        return [np.matmul(x[0], x[1])]
    if op == "Gemm":
        A = x[0].T if a.get("transA", 0) else x[0]
        B = x[1].T if a.get("transB", 0) else x[1]
        y = a.get("alpha", 1.0) * (A @ B)
        if len(x) > 2 and x[2] is not None:
            y = y + a.get("beta", 1.0) * x[2]
        return [y.astype(x[0].dtype)]
    if op == "Transpose":
        return [np.transpose(x[0], a.get("perm"))]
    if op == "Reshape":
        shape = [int(s) for s in x[1]]
        if not a.get("allowzero", 0):
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [x[0].reshape(shape)]
    if op == "Unsqueeze":
        r = x[0]
        rank = r.ndim + len(x[1])
        for ax in sorted(int(v) % rank for v in x[1]):
            r = np.expand_dims(r, ax)
        return [r]
    if op == "Concat":
        return [np.concatenate(x, axis=a["axis"])]
    if op == "Gather":
        return [np.take(x[0], x[1], axis=a.get("axis", 0))]
    if op == "Slice":
        return [_slice(x[0], x[1], x[2], *(list(x[3:]) + [None] * (5 - len(x))))]
    if op == "Split":
        ax = a.get("axis", 0)
        sizes = [int(s) for s in x[1]]
        return np.split(x[0], np.cumsum(sizes)[:-1], axis=ax)
    if op == "ReduceMean":
        return [x[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))).astype(x[0].dtype)]
    if op == "Softmax":
        return [_softmax(x[0], a.get("axis", -1)).astype(x[0].dtype)]
    if op == "LayerNormalization":
        return [_layernorm(x[0], x[1], x[2] if len(x) > 2 else None, a.get("axis", -1), a.get("epsilon", 1e-5))]
    if op == "Range":
        return [np.arange(x[0], x[1], x[2]).astype(x[0].dtype)]
    if op == "Trilu":
        k = int(x[1]) if len(x) > 1 and x[1] is not None else 0
        return [np.triu(x[0], k) if a.get("upper", 1) else np.tril(x[0], k)]
    raise NotImplementedError(f"onnxref: op {op}")


def run(model: onnx.ModelProto, feeds: dict, f64: bool = False, overrides: dict = None) -> list:
    """Evaluates the graph; f64 runs float tensors in float64; overrides replace initializer values."""
    env = {}
    for init in model.graph.initializer:
        env[init.name] = _float(numpy_helper.to_array(init), f64)
    for k, v in (overrides or {}).items():
        env[k] = v
    for k, v in feeds.items():
        env[k] = _float(v, f64)
    for node in model.graph.node:
        ins = [env[n] if n else None for n in node.input]
        outs = _run(node.op_type, _attrs(node), ins, f64)
        for name, val in zip(node.output, outs):
            if name:
                env[name] = val
    return [env[o.name] for o in model.graph.output]
