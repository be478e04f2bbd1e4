#!/usr/bin/python3
"""gradlint model zoo and PyTorch gradient oracle.

Builds small PyTorch transformers (and a few non-transformers), exports each with
torch.onnx.export, and writes, per configuration NAME in CONFIGS below:

  DIR/NAME/model.onnx        the exported graph (export_params=True, TrainingMode.EVAL)
  DIR/NAME/meta.json         facts from the model's constructor (not parsed from the ONNX)
  DIR/NAME/inputs/<in>.pb    each graph input as an onnx.TensorProto (seed-0 draw)
  DIR/NAME/targets.pb        ce: int64 targets [B, T]; projection: float32 r, shape of the first output
  DIR/NAME/torch.json        PyTorch gradient norms per ONNX initializer (see README.md)

Reference loss and inputs (gradlint DESIGN.md section 3; the C++ side implements the same):
  * ce (model takes int64 token ids; first output [.., V]): mean over all B*T rows of
    cross-entropy(logits, targets), targets uniform over [0, V).
  * projection (model takes float32 x): L = (1/N) * sum(r * y), y the first output,
    N = product of all dims of y but the last, r standard normal of y's shape.
  * Integer inputs are uniform over [0, V) with V the rows of the embedding table they index;
    float inputs are standard normal.

Random streams (both fixed, so two runs give byte-identical files):
  * weights: torch.manual_seed(zlib.crc32(NAME)) right before the model is constructed;
  * inputs and targets of seed s: rng = numpy.random.default_rng(1000 + s), then, in graph
    input order, rng.integers(0, V, shape, int64) for token ids or
    rng.standard_normal(shape).astype(float32) for floats, then the targets / r the same way.
    Seed 0 is what inputs/*.pb and targets.pb hold.

torch.json "seed0" is computed in float32 with exactly those inputs (a float32 executor is compared
against it); "grad_norm_f64" beside it is the same draw in float64. "mean" gathers seeds 0..N-1 in
float64 (model.double(); float32-rounded inputs cast to float64), same weights.

Parameters are named by ONNX initializer. Each torch parameter is mapped to the initializer whose
array equals it, its transpose, or (for declared fused weights) one of its row blocks, by exact
comparison. torch 1.13 deduplicates initializers with identical values (LayerNorm ones/zeros,
zero biases): one initializer then stands for several torch parameters, reaches its other users
through Identity nodes named after them, and its gradient is the sum of theirs ("aliases" lists
the per-user norms). A float initializer with >= 2 elements that the loss depends on
differentiably and that maps to no parameter or buffer is a mapping bug: the script fails.

Usage:
  /usr/bin/python3 test/zoo/zoo.py --out DIR [--only NAME ...] [--seeds N]
  /usr/bin/python3 test/zoo/zoo.py --list            # markdown table of the configurations
  /usr/bin/python3 test/zoo/zoo.py --selftest        # checks the oracle itself
  /usr/bin/python3 test/zoo/zoo.py --example PATH    # writes the tiny_gpt model.onnx to PATH
"""

import argparse
import copy
import dataclasses
import io
import json
import math
import os
import sys
import time
import warnings
import zlib
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

torch.set_num_threads(1)
warnings.filterwarnings("ignore")


# --------------------------------------------------------------------------- configurations

@dataclasses.dataclass(frozen=True)
class Cfg:
    name: str
    family: str            # torch_encoder | gpt | bert | llama | mlp
    L: int = 2             # blocks (mlp: hidden layers)
    d: int = 32            # d_model
    h: int = 4             # heads
    ff: int = 0            # MLP hidden width; 0 -> 4*d (llama: 8*d/3 rounded to 8)
    vocab: Optional[int] = None   # None: float input x [B, T, d] and projection loss
    T: int = 16
    B: int = 2
    opset: int = 17
    fold: bool = True      # do_constant_folding
    dynamic: bool = True   # dynamic axes batch/sequence; False: static shapes
    norm: str = "pre"      # pre | post | none
    act: str = "gelu_tanh" # relu | gelu | gelu_tanh | tanh | sigmoid | swiglu
    scale: str = "div"     # div | mul | none
    mask: str = "causal"   # causal | none
    mask_src: str = "buffer"  # buffer: registered tril(ones) sliced to T | trilu: ones(T,T).tril()
    mask_fill: str = "inf"    # inf: masked_fill(-inf) | add: + (1 - m) * -1e9
    residual: bool = True
    fused_qkv: bool = True
    fused_gate_up: bool = False
    bias: bool = True
    init: str = "torch"    # torch: module defaults | gpt2: N(0, .02), c_proj N(0, .02/sqrt(2L)), zero biases
    init_scale: float = 1.0  # multiplies every parameter with >= 2 dims after init
    block_size: int = 64   # rows of the positional table and of the mask buffer
    clone_layers: bool = False  # torch_encoder: keep nn.TransformerEncoder's deep-copied layers
    positions: bool = True # gpt: learned positional table wpe (Gather + Add)
    note: str = ""


C = Cfg
# One line per model. Loss is ce when vocab is set, projection otherwise.
CONFIGS: List[Cfg] = [
    # 1. nn.TransformerEncoder stacks (batch_first, dropout 0), float input, projection loss
    C("enc_post_relu_o14", "torch_encoder", L=2, d=32, h=4, norm="post", act="relu", opset=14, fold=True, mask="none"),
    C("enc_post_gelu_o17_nofold", "torch_encoder", L=4, d=64, h=4, norm="post", act="gelu", opset=17, fold=False, mask="none"),
    C("enc_pre_relu_o17", "torch_encoder", L=4, d=64, h=4, norm="pre", act="relu", opset=17, fold=True, mask="none"),
    C("enc_pre_gelu_o14_nofold", "torch_encoder", L=2, d=32, h=2, norm="pre", act="gelu", opset=14, fold=False, mask="none", B=1, T=32),
    C("enc_pre_gelu_o17_static", "torch_encoder", L=6, d=32, h=4, norm="pre", act="gelu", opset=17, fold=True, dynamic=False, mask="none"),
    C("enc_post_relu_o14_nofold_L12", "torch_encoder", L=12, d=32, h=4, norm="post", act="relu", opset=14, fold=False, mask="none"),
    C("enc_pre_relu_o14_d128", "torch_encoder", L=2, d=128, h=4, ff=256, norm="pre", act="relu", opset=14, fold=True, mask="none", T=8),
    C("enc_post_gelu_o17_L8", "torch_encoder", L=8, d=64, h=8, ff=128, norm="post", act="gelu", opset=17, fold=True, mask="none"),
    C("enc_post_gelu_o17_clones", "torch_encoder", L=3, d=32, h=4, norm="post", act="gelu", opset=17, fold=True, mask="none", clone_layers=True,
      note="nn.TransformerEncoder deep-copies one layer: at init all layers share one set of initializers"),
    C("enc_pre_relu_o17_init3", "torch_encoder", L=4, d=32, h=4, norm="pre", act="relu", opset=17, fold=True, mask="none", init_scale=3.0),
    # 2. GPT-style decoders: wte + wpe, fused c_attn + split, causal tril buffer, GELU-tanh MLP, ce loss
    C("gpt_L2_d64", "gpt", L=2, d=64, h=4, vocab=128, opset=17, fold=True),
    C("gpt_L2_mulscale_o14", "gpt", L=2, d=64, h=4, vocab=128, opset=14, fold=True, scale="mul"),
    C("gpt_L2_unscaled_nofold", "gpt", L=2, d=64, h=4, vocab=128, opset=17, fold=False, scale="none"),
    C("gpt_L6_d64_o14_nofold", "gpt", L=6, d=64, h=4, vocab=128, opset=14, fold=False),
    C("gpt_L12_d64", "gpt", L=12, d=64, h=4, vocab=128, opset=17, fold=True, mask_fill="add"),
    C("gpt_L24_d32", "gpt", L=24, d=32, h=4, vocab=64, opset=17, fold=True, mask_fill="add"),
    C("gpt_L8_d32_T256", "gpt", L=8, d=32, h=4, vocab=64, opset=17, fold=True, T=256, B=1, block_size=256,
      note="256 positions: the analysis keeps per-position means at 128 anchors"),
    C("gpt_L48_d32_o14", "gpt", L=48, d=32, h=4, vocab=64, opset=14, fold=True, B=1),
    C("gpt_L6_post", "gpt", L=6, d=64, h=4, vocab=128, norm="post", opset=17, fold=True),
    C("gpt_L24_post_o14", "gpt", L=24, d=32, h=4, vocab=64, norm="post", opset=14, fold=True),
    C("gpt_L6_nonorm", "gpt", L=6, d=64, h=4, vocab=128, norm="none", opset=17, fold=True),
    C("gpt_L12_nonorm_o14", "gpt", L=12, d=32, h=4, vocab=64, norm="none", opset=14, fold=False),
    C("gpt_L6_noresidual", "gpt", L=6, d=64, h=4, vocab=128, residual=False, opset=17, fold=True),
    C("gpt_L4_d128_nofold", "gpt", L=4, d=128, h=8, vocab=128, opset=17, fold=False, T=8),
    C("gpt_L2_d256_o14", "gpt", L=2, d=256, h=8, ff=512, vocab=256, opset=14, fold=True, B=1, T=8),
    C("gpt_L6_unscaled_d128_o14", "gpt", L=6, d=128, h=2, vocab=128, scale="none", opset=14, fold=True, T=32, B=1),
    C("gpt_L2_static", "gpt", L=2, d=32, h=4, vocab=64, opset=17, fold=True, dynamic=False),
    C("gpt_L4_trilu_o14", "gpt", L=4, d=32, h=4, vocab=64, opset=14, fold=True, mask_src="trilu", mask_fill="add"),
    C("gpt_L12_gpt2init", "gpt", L=12, d=64, h=4, vocab=128, init="gpt2", opset=17, fold=True),
    C("tiny_gpt", "gpt", L=2, d=32, h=2, ff=48, vocab=64, opset=17, fold=True, mask_src="trilu", positions=False,
      note="examples/tiny-gpt.onnx: under 100 kB, and no positional table or mask buffer limits the sequence"),
    # 3. BERT-style encoders: separate query/key/value, post-norm, erf GELU, no mask
    C("bert_L4_ce_o14_nofold", "bert", L=4, d=64, h=4, vocab=128, norm="post", act="gelu", mask="none", fused_qkv=False, opset=14, fold=False),
    C("bert_L6_proj", "bert", L=6, d=64, h=4, norm="post", act="gelu", mask="none", fused_qkv=False, opset=17, fold=True),
    C("bert_L12_d32_ce", "bert", L=12, d=32, h=4, vocab=64, norm="post", act="gelu", mask="none", fused_qkv=False, opset=17, fold=True),
    # 4. Llama-style: RMSNorm (manual), SwiGLU, no biases, pre-norm, causal, no positional table
    C("llama_L4_o14", "llama", L=4, d=64, h=4, vocab=128, act="swiglu", bias=False, fused_qkv=False, mask_src="trilu", mask_fill="add", opset=14, fold=True),
    C("llama_L4_o17_nofold", "llama", L=4, d=64, h=4, vocab=128, act="swiglu", bias=False, fused_qkv=False, mask_src="trilu", mask_fill="add", opset=17, fold=False),
    C("llama_L8_fused_o17", "llama", L=8, d=64, h=4, vocab=128, act="swiglu", bias=False, fused_qkv=True, fused_gate_up=True, mask_src="buffer", mask_fill="inf", opset=17, fold=True),
    C("llama_L16_d32_o14_nofold", "llama", L=16, d=32, h=4, vocab=64, act="swiglu", bias=False, fused_qkv=False, mask_src="trilu", mask_fill="add", opset=14, fold=False),
    # 5. init scale variants
    C("gpt_L6_init0.05", "gpt", L=6, d=64, h=4, vocab=128, init_scale=0.05, opset=17, fold=True),
    C("gpt_L6_init0.3_o14", "gpt", L=6, d=64, h=4, vocab=128, init_scale=0.3, opset=14, fold=True),
    C("gpt_L6_init3", "gpt", L=6, d=64, h=4, vocab=128, init_scale=3.0, opset=17, fold=True),
    C("gpt_L6_init8_o14", "gpt", L=6, d=64, h=4, vocab=128, init_scale=8.0, opset=14, fold=True),
    C("llama_L4_init0.3", "llama", L=4, d=64, h=4, vocab=128, act="swiglu", bias=False, fused_qkv=False, mask_src="trilu", mask_fill="add", init_scale=0.3, opset=17, fold=True),
    # 6. saturating activations
    C("gpt_L6_tanh", "gpt", L=6, d=64, h=4, vocab=128, act="tanh", opset=17, fold=True),
    C("gpt_L6_sigmoid_o14", "gpt", L=6, d=64, h=4, vocab=128, act="sigmoid", opset=14, fold=True),
    C("gpt_L8_tanh_init8", "gpt", L=8, d=32, h=4, vocab=64, act="tanh", init_scale=8.0, opset=17, fold=True, note="pathological: saturated tanh MLPs and attention"),
    C("gpt_L8_sigmoid_nonorm_init3", "gpt", L=8, d=32, h=4, vocab=64, act="sigmoid", norm="none", init_scale=3.0, opset=17, fold=False, note="pathological: no normalization, saturating sigmoid"),
    C("gpt_L4_relu", "gpt", L=4, d=64, h=4, vocab=128, act="relu", opset=17, fold=True),
    # 7. not transformers (negative cases for structure recovery)
    C("mlp_L4_relu", "mlp", L=4, d=32, ff=64, act="relu", norm="none", mask="none", scale="none", fused_qkv=False, opset=17, fold=True),
    C("mlp_L6_tanh_ce_o14", "mlp", L=6, d=32, ff=64, vocab=64, act="tanh", norm="none", mask="none", scale="none", fused_qkv=False, opset=14, fold=False),
]

EXAMPLE_CONFIG = "tiny_gpt"


def cfgKind(c: Cfg) -> str:
    return {"torch_encoder": "encoder", "bert": "encoder", "gpt": "decoder", "llama": "decoder", "mlp": "mlp"}[c.family]


def cfgFF(c: Cfg) -> int:
    if c.ff:
        return c.ff
    if c.act == "swiglu":
        return int(math.ceil(8 * c.d / 3 / 8) * 8)
    return 4 * c.d


def cfgLoss(c: Cfg) -> str:
    return "ce" if c.vocab else "projection"


# --------------------------------------------------------------------------- modules

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


class RMSNorm(nn.Module):
    """Llama's RMSNorm written out (torch 1.13 has no RMSNorm module and ONNX no op before opset 23)."""

    def __init__(self, d: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def makeNorm(c: Cfg) -> nn.Module:
    return RMSNorm(c.d) if c.family == "llama" else nn.LayerNorm(c.d)


def causalBuffer(c: Cfg) -> torch.Tensor:
    n = c.block_size
    return torch.tril(torch.ones(n, n)).view(1, 1, n, n)


def attend(q, k, v, c: Cfg, maskBuf):
    """Multi-head attention core on [B, T, E] projections: split heads, scale, mask, softmax, AV."""
    B, T, E = q.size()
    H, D = c.h, E // c.h
    q = q.view(B, T, H, D).transpose(1, 2)
    k = k.view(B, T, H, D).transpose(1, 2)
    v = v.view(B, T, H, D).transpose(1, 2)
    att = q @ k.transpose(-2, -1)
    if c.scale == "div":
        att = att / math.sqrt(D)
    elif c.scale == "mul":
        att = att * (1.0 / math.sqrt(D))
    if c.mask == "causal":
        if maskBuf is not None:
            m = maskBuf[:, :, :T, :T]
        else:
            m = torch.ones(T, T, dtype=att.dtype, device=att.device).tril()
        if c.mask_fill == "inf":
            att = att.masked_fill(m == 0, float("-inf"))
        else:
            att = att + (1.0 - m) * -1e9
    att = F.softmax(att, dim=-1)
    y = att @ v
    return y.transpose(1, 2).reshape(B, T, E)


class SelfAttention(nn.Module):
    """GPT/BERT/Llama self-attention with fused (c_attn) or separate projections."""

    def __init__(self, c: Cfg, names):
        super().__init__()
        self.c = c
        self.names = names  # (fused, q, k, v, out) attribute names
        E = c.d
        if c.fused_qkv:
            setattr(self, names[0], nn.Linear(E, 3 * E, bias=c.bias))
        else:
            for n in names[1:4]:
                setattr(self, n, nn.Linear(E, E, bias=c.bias))
        setattr(self, names[4], nn.Linear(E, E, bias=c.bias))
        if c.mask == "causal" and c.mask_src == "buffer":
            self.register_buffer("mask", causalBuffer(c))
        else:
            self.mask = None

    def forward(self, x):
        n = self.names
        if self.c.fused_qkv:
            q, k, v = getattr(self, n[0])(x).split(self.c.d, dim=2)
        else:
            q, k, v = (getattr(self, a)(x) for a in n[1:4])
        return getattr(self, n[4])(attend(q, k, v, self.c, self.mask))


class FeedForward(nn.Module):
    """Two-layer MLP (act in the middle) or SwiGLU with separate or fused gate/up."""

    def __init__(self, c: Cfg, names):
        super().__init__()
        self.c, self.names = c, names  # (in, out, gate, up, gate_up)
        E, Fh = c.d, cfgFF(c)
        if c.act == "swiglu":
            if c.fused_gate_up:
                setattr(self, names[4], nn.Linear(E, 2 * Fh, bias=c.bias))
            else:
                setattr(self, names[2], nn.Linear(E, Fh, bias=c.bias))
                setattr(self, names[3], nn.Linear(E, Fh, bias=c.bias))
        else:
            setattr(self, names[0], nn.Linear(E, Fh, bias=c.bias))
        setattr(self, names[1], nn.Linear(Fh, E, bias=c.bias))

    def forward(self, x):
        n = self.names
        if self.c.act == "swiglu":
            if self.c.fused_gate_up:
                g, u = getattr(self, n[4])(x).chunk(2, dim=-1)
            else:
                g, u = getattr(self, n[2])(x), getattr(self, n[3])(x)
            hid = F.silu(g) * u
        else:
            hid = ACTIVATIONS[self.c.act](getattr(self, n[0])(x))
        return getattr(self, n[1])(hid)


def residualBlock(x, norm, sub, c: Cfg, normMod):
    """One sublayer (attention or MLP) wrapped in the configured norm placement and residual."""
    if norm == "pre":
        y = sub(normMod(x))
        return x + y if c.residual else y
    y = sub(x)
    y = x + y if c.residual else y
    return normMod(y) if norm == "post" else y


class GPTBlock(nn.Module):
    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        if c.norm != "none":
            self.ln_1, self.ln_2 = makeNorm(c), makeNorm(c)
        self.attn = SelfAttention(c, ("c_attn", "q_proj", "k_proj", "v_proj", "c_proj"))
        self.mlp = FeedForward(c, ("c_fc", "c_proj", "gate", "up", "gate_up"))

    def forward(self, x):
        x = residualBlock(x, self.c.norm, self.attn, self.c, getattr(self, "ln_1", None))
        return residualBlock(x, self.c.norm, self.mlp, self.c, getattr(self, "ln_2", None))


class GPT(nn.Module):
    """GPT-2 layout: wte + wpe (Gather + Add), blocks, ln_f (pre-norm), lm_head without bias."""

    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c.vocab, c.d)
        if c.positions:
            self.wpe = nn.Embedding(c.block_size, c.d)
        self.h = nn.ModuleList([GPTBlock(c) for _ in range(c.L)])
        if c.norm == "pre":
            self.ln_f = makeNorm(c)
        self.lm_head = nn.Linear(c.d, c.vocab, bias=False)

    def forward(self, input_ids):
        x = self.wte(input_ids)
        if self.c.positions:
            T = input_ids.size(1)
            x = x + self.wpe(torch.arange(0, T, dtype=torch.long, device=input_ids.device))
        for b in self.h:
            x = b(x)
        if self.c.norm == "pre":
            x = self.ln_f(x)
        return self.lm_head(x)


class LlamaBlock(nn.Module):
    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        self.attention_norm, self.ffn_norm = makeNorm(c), makeNorm(c)
        self.attention = SelfAttention(c, ("wqkv", "wq", "wk", "wv", "wo"))
        self.feed_forward = FeedForward(c, ("w_in", "w2", "w1", "w3", "w13"))

    def forward(self, x):
        x = residualBlock(x, "pre", self.attention, self.c, self.attention_norm)
        return residualBlock(x, "pre", self.feed_forward, self.c, self.ffn_norm)


class Llama(nn.Module):
    """Llama layout without RoPE (no positional signal but the causal mask): embeddings, RMSNorm, SwiGLU."""

    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        self.tok_embeddings = nn.Embedding(c.vocab, c.d)
        self.layers = nn.ModuleList([LlamaBlock(c) for _ in range(c.L)])
        self.norm = makeNorm(c)
        self.output = nn.Linear(c.d, c.vocab, bias=False)

    def forward(self, input_ids):
        x = self.tok_embeddings(input_ids)
        for b in self.layers:
            x = b(x)
        return self.output(self.norm(x))


class BertLayer(nn.Module):
    """BERT post-norm layer with separate query/key/value projections (HF module names, flattened)."""

    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        self.attention = SelfAttention(c, ("qkv", "query", "key", "value", "dense"))
        self.attention_norm = makeNorm(c)
        self.ffn = FeedForward(c, ("intermediate", "output", "gate", "up", "gate_up"))
        self.output_norm = makeNorm(c)

    def forward(self, x):
        x = residualBlock(x, self.c.norm, self.attention, self.c, self.attention_norm)
        return residualBlock(x, self.c.norm, self.ffn, self.c, self.output_norm)


class Bert(nn.Module):
    """BERT encoder; with a vocabulary: word + position embeddings, embedding LayerNorm, vocab head."""

    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        if c.vocab:
            self.word_embeddings = nn.Embedding(c.vocab, c.d)
            self.position_embeddings = nn.Embedding(c.block_size, c.d)
            self.embeddings_norm = makeNorm(c)
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.L)])
        if c.vocab:
            self.cls = nn.Linear(c.d, c.vocab)

    def forward(self, inp):
        if self.c.vocab:
            T = inp.size(1)
            pos = torch.arange(0, T, dtype=torch.long, device=inp.device)
            x = self.embeddings_norm(self.word_embeddings(inp) + self.position_embeddings(pos))
        else:
            x = inp
        for b in self.layer:
            x = b(x)
        return self.cls(x) if self.c.vocab else x


class MLPNet(nn.Module):
    """Not a transformer: [Embedding] -> (Linear, act) * L -> Linear."""

    def __init__(self, c: Cfg):
        super().__init__()
        self.c = c
        if c.vocab:
            self.embed = nn.Embedding(c.vocab, c.d)
        mods, width = [], c.d
        for _ in range(c.L):
            mods += [nn.Linear(width, c.ff), {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[c.act]()]
            width = c.ff
        mods.append(nn.Linear(width, c.vocab or c.d))
        self.net = nn.Sequential(*mods)

    def forward(self, inp):
        return self.net(self.embed(inp) if self.c.vocab else inp)


def torchEncoder(c: Cfg) -> nn.Module:
    """nn.TransformerEncoder; its layers are re-created independently unless clone_layers."""

    def layer():
        return nn.TransformerEncoderLayer(c.d, c.h, cfgFF(c), dropout=0.0, activation=c.act,
                                          batch_first=True, norm_first=(c.norm == "pre"))

    enc = nn.TransformerEncoder(layer(), c.L, norm=nn.LayerNorm(c.d) if c.norm == "pre" else None,
                                enable_nested_tensor=False)
    if not c.clone_layers:
        enc.layers = nn.ModuleList([layer() for _ in range(c.L)])
    return enc


def fusedParams(model: nn.Module, c: Cfg) -> Dict[str, List[str]]:
    """Torch parameters whose output is split, with the labels of their row blocks."""
    out = {}
    for n, _ in model.named_parameters():
        leaf = n.rsplit(".", 2)[-2:]
        if n.endswith("in_proj_weight") or leaf == ["c_attn", "weight"] or leaf == ["wqkv", "weight"]:
            out[n] = ["q", "k", "v"]
        elif leaf in (["gate_up", "weight"], ["w13", "weight"]):
            out[n] = ["0", "1"]
    return out


def buildModel(c: Cfg) -> nn.Module:
    torch.manual_seed(zlib.crc32(c.name.encode()))
    model = {"torch_encoder": torchEncoder, "gpt": GPT, "bert": Bert, "llama": Llama, "mlp": MLPNet}[c.family](c)
    with torch.no_grad():
        if c.init == "gpt2":
            for n, p in model.named_parameters():
                if n.endswith("bias"):
                    p.zero_()
                elif p.dim() >= 2:
                    std = 0.02 / math.sqrt(2 * c.L) if n.endswith("c_proj.weight") else 0.02
                    p.normal_(0.0, std)
        if c.init_scale != 1.0:
            for p in model.parameters():
                if p.dim() >= 2:
                    p.mul_(c.init_scale)
    return model.eval()


# --------------------------------------------------------------------------- inputs, loss, export

def inputSpecs(c: Cfg):
    """(name, dtype, shape, high) per graph input, in graph order."""
    if c.vocab:
        return [("input_ids", "int64", [c.B, c.T], c.vocab)]
    return [("x", "float32", [c.B, c.T, c.d], None)]


def outputName(c: Cfg) -> str:
    return "logits" if c.vocab else "y"


def outputShape(c: Cfg):
    return [c.B, c.T, c.vocab or c.d]


def draw(c: Cfg, seed: int):
    """Inputs (name -> array) and targets (ce: int64 [B, T]; projection: float32 r) for one seed."""
    rng = np.random.default_rng(1000 + seed)
    inputs = {}
    for name, dtype, shape, high in inputSpecs(c):
        if dtype == "int64":
            inputs[name] = rng.integers(0, high, size=shape, dtype=np.int64)
        else:
            inputs[name] = rng.standard_normal(size=shape).astype(np.float32)
    if cfgLoss(c) == "ce":
        targets = rng.integers(0, c.vocab, size=outputShape(c)[:-1], dtype=np.int64)
    else:
        targets = rng.standard_normal(size=outputShape(c)).astype(np.float32)
    return inputs, targets


def referenceLoss(c: Cfg, y, targets):
    if cfgLoss(c) == "ce":
        return F.cross_entropy(y.reshape(-1, y.shape[-1]), targets.reshape(-1))
    rows = y.numel() // y.shape[-1]
    return (targets * y).sum() / rows


def toTorch(arr: np.ndarray, dtype):
    t = torch.from_numpy(arr.copy())
    return t.to(dtype) if t.is_floating_point() else t


def forwardBackward(model, c: Cfg, inputs, targets, dtype):
    """Loss, output-gradient norm and parameter gradients (float64 numpy) for one draw."""
    model.zero_grad(set_to_none=True)
    args = [toTorch(inputs[n], dtype) for n, _, _, _ in inputSpecs(c)]
    y = model(*args)
    y.retain_grad()
    loss = referenceLoss(c, y, toTorch(targets, dtype))
    loss.backward()
    grads = {n: (p.grad.detach().double().numpy() if p.grad is not None else np.zeros(p.shape))
             for n, p in model.named_parameters()}
    return float(loss), float(y.grad.double().norm()), grads, y


def exportOnnx(model, c: Cfg) -> bytes:
    inputs, _ = draw(c, 0)
    args = tuple(toTorch(inputs[n], torch.float32) for n, _, _, _ in inputSpecs(c))
    names = [n for n, _, _, _ in inputSpecs(c)]
    dyn = None
    if c.dynamic:
        dyn = {n: {0: "batch", 1: "sequence"} for n in names + [outputName(c)]}
    f = io.BytesIO()
    torch.onnx.export(model, args, f, export_params=True, opset_version=c.opset,
                      do_constant_folding=c.fold, training=torch.onnx.TrainingMode.EVAL,
                      input_names=names, output_names=[outputName(c)], dynamic_axes=dyn)
    return f.getvalue()


# --------------------------------------------------------------------------- initializer mapping

# Input positions through which no gradient flows (shapes, indices, conditions, axes).
NONDIFF_INPUTS = {
    "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Gather": {1},
    "GatherElements": {1}, "GatherND": {1}, "Where": {0}, "Unsqueeze": {1}, "Squeeze": {1},
    "Split": {1}, "ReduceSum": {1}, "ReduceMean": {1}, "Pad": {1, 3}, "Trilu": {1},
    "Dropout": {1, 2}, "Resize": {1, 2, 3}, "TopK": {1}, "CumSum": {1},
}
# Ops whose outputs are integer or boolean (no gradient through them at all).
NONDIFF_OPS = {
    "Shape", "Size", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And",
    "Or", "Xor", "IsNaN", "IsInf", "ArgMax", "ArgMin", "NonZero", "Range", "ConstantOfShape", "OneHot",
}
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}


def differentiablyReached(graph: onnx.GraphProto) -> set:
    """Names of tensors on which the first graph output depends differentiably."""
    needed = {graph.output[0].name}
    for node in reversed(graph.node):
        if not any(o in needed for o in node.output) or node.op_type in NONDIFF_OPS:
            continue
        if node.op_type == "Cast" and next(a.i for a in node.attribute if a.name == "to") not in FLOAT_TYPES:
            continue
        skip = NONDIFF_INPUTS.get(node.op_type, set())
        needed.update(n for i, n in enumerate(node.input) if n and i not in skip)
    return needed


def _key(a: np.ndarray):
    a = np.ascontiguousarray(a)
    return (a.shape, a.dtype.str, a.tobytes())


def mapInitializers(model: nn.Module, c: Cfg, m: onnx.ModelProto):
    """ONNX parameter list: [{name, shape, entries: [(param, layout, rows)], aliases, reached, fused}]
    in graph order, and per torch parameter the row ranges that initializers stand for (None: all).

    layout: "identity" | "transpose"; rows: None, or (start, stop) of a fused parameter's row block
    or of the leading rows that constant folding kept. Several entries: a deduplicated initializer.
    """
    params = {n: p.detach().float().numpy() for n, p in model.named_parameters()}
    buffers = {n: b.detach().numpy() for n, b in model.named_buffers()}
    fused = fusedParams(model, c)
    whole, blocks = defaultdict(list), defaultdict(list)
    for n, a in params.items():
        whole[_key(a)].append((n, "identity", None))
        if a.ndim == 2:
            whole[_key(a.T)].append((n, "transpose", None))
        if n in fused:
            k = len(fused[n])
            step = a.shape[0] // k
            for i in range(k):
                blk = a[i * step:(i + 1) * step]
                blocks[_key(blk)].append((n, "identity", (i * step, (i + 1) * step)))
                if blk.ndim == 2:
                    blocks[_key(blk.T)].append((n, "transpose", (i * step, (i + 1) * step)))
    bufferKeys = set()
    for b in buffers.values():
        bufferKeys.add(_key(b))
        bufferKeys.add(_key(np.squeeze(b)))

    reached = differentiablyReached(m.graph)
    aliases = defaultdict(list)
    for node in m.graph.node:
        if node.op_type == "Identity":
            aliases[node.input[0]].append(node.output[0])

    out, claimed = [], defaultdict(list)
    for init in m.graph.initializer:
        if init.data_type not in FLOAT_TYPES:
            continue
        arr = numpy_helper.to_array(init)
        key = _key(arr)
        entries = whole.get(key) or blocks.get(key) or leadingRows(arr, params)
        if not entries:
            isBuffer = key in bufferKeys or any(
                arr.ndim == b.ndim and all(s <= t for s, t in zip(arr.shape, b.shape))
                and np.array_equal(arr, b[tuple(slice(0, s) for s in arr.shape)]) for b in buffers.values())
            if arr.size >= 2 and not isBuffer and (init.name in reached or any(a in reached for a in aliases[init.name])):
                raise RuntimeError(f"{c.name}: initializer {init.name} {list(arr.shape)} is reached by the gradient "
                                   f"but equals no torch parameter, transpose, block or buffer")
            continue
        if len(entries) > 1 and len(entries) != 1 + len(aliases[init.name]):
            raise RuntimeError(f"{c.name}: initializer {init.name} equals {len(entries)} torch parameters "
                               f"but has {len(aliases[init.name])} Identity aliases")
        for e in entries:
            claimed[e[0]].append((init.name, e[2]))
        out.append({"name": init.name, "shape": list(arr.shape), "entries": entries,
                    "aliases": aliases[init.name],
                    "reached": init.name in reached or any(a in reached for a in aliases[init.name]),
                    "fused": fused.get(entries[0][0]) if len(entries) == 1 and entries[0][2] is None else None})
    for n, claims in claimed.items():
        if len(claims) > 1 and (any(r is None for _, r in claims) or len({r for _, r in claims}) < len(claims)):
            raise RuntimeError(f"{c.name}: torch parameter {n} maps to several initializers {[i for i, _ in claims]}")
    return out, {n: [r for _, r in claimed[n]] for n in params}


def leadingRows(arr: np.ndarray, params) -> list:
    """A parameter's first rows, as constant folding leaves them (static-shape wpe(arange(T)))."""
    return [(n, "identity", (0, arr.shape[0])) for n, p in params.items()
            if p.ndim == arr.ndim and p.ndim >= 1 and p.shape[1:] == arr.shape[1:] and p.shape[0] > arr.shape[0]
            and np.array_equal(p[:arr.shape[0]], arr)]


def checkCoverage(c: Cfg, coverage, grads):
    """Every part of a torch parameter's gradient that no initializer stands for must be exactly zero."""
    for n, ranges in coverage.items():
        if None in ranges:
            continue
        rest = grads[n].copy()
        for r in ranges:
            rest[r[0]:r[1]] = 0
        if norm(rest) != 0.0:
            raise RuntimeError(f"{c.name}: torch parameter {n} has gradient {norm(rest):.3e} outside the rows "
                               f"{ranges} that ONNX initializers stand for")


def onnxGrad(entry, grads) -> np.ndarray:
    """Gradient of one ONNX initializer in its own layout: the sum over the torch parameters it stands for."""
    total = None
    for n, layout, rows in entry["entries"]:
        g = grads[n]
        if rows is not None:
            g = g[rows[0]:rows[1]]
        if layout == "transpose":
            g = g.T
        total = g if total is None else total + g
    return total


def norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def gradNorms(mapping, grads) -> Dict[str, float]:
    """Norm per ONNX parameter, sub-parameter and attributable alias."""
    out = {}
    for e in mapping:
        out[e["name"]] = norm(onnxGrad(e, grads))
        if e["fused"]:
            g = grads[e["entries"][0][0]]
            step = g.shape[0] // len(e["fused"])
            for i, lab in enumerate(e["fused"]):
                out[f"{e['name']}[{lab}]"] = norm(g[i * step:(i + 1) * step])
        for a in aliasAttribution(e):
            out["alias:" + a] = norm(grads[a])
    return out


def aliasAttribution(e) -> List[str]:
    """Tensor names (initializer + Identity outputs) of a shared initializer when they name its torch parameters."""
    if len(e["entries"]) < 2:
        return []
    tensors = sorted([e["name"]] + e["aliases"])
    params = sorted(n for n, _, _ in e["entries"])
    return tensors if tensors == params else []


# --------------------------------------------------------------------------- oracle

def meta(c: Cfg):
    dh = c.d // c.h if cfgKind(c) != "mlp" else None
    scale = {"div": 1 / math.sqrt(dh), "mul": 1 / math.sqrt(dh), "none": 1.0}[c.scale] if dh else None
    dims = {"batch": c.B, "sequence": c.T} if c.dynamic else {}
    ins = []
    for n, dt, shape, high in inputSpecs(c):
        onnxShape = (["batch", "sequence"] + shape[2:]) if c.dynamic else shape
        ins.append({"name": n, "dtype": dt, "shape": shape, "onnx_shape": onnxShape, "range": [0, high] if high else None})
    return {
        "name": c.name, "family": c.family, "opset": c.opset, "constant_folding": c.fold,
        "kind": cfgKind(c), "blocks": c.L if cfgKind(c) != "mlp" else 0,
        "mlp_layers": c.L if cfgKind(c) == "mlp" else None,
        "norm": c.norm if cfgKind(c) != "mlp" else "none",
        "norm_type": "none" if cfgKind(c) == "mlp" or c.norm == "none" else ("rmsnorm" if c.family == "llama" else "layernorm"),
        "final_norm": (c.family == "llama") or (c.family in ("gpt", "torch_encoder") and c.norm == "pre"),
        "heads": c.h if dh else None, "d_model": c.d, "d_head": dh, "d_ff": cfgFF(c),
        "attention_scale": scale, "scale_style": c.scale if dh else "none",
        # nn.MultiheadAttention (torch 1.13) divides q by sqrt(d_head) before q @ k^T; the others scale the logits
        "scale_on": None if not dh or c.scale == "none" else ("q" if c.family == "torch_encoder" else "logits"),
        "mask": c.mask if dh else "none",
        "mask_src": c.mask_src if dh and c.mask == "causal" else None,
        "mask_fill": c.mask_fill if dh and c.mask == "causal" else None,
        "residual": c.residual if dh else False,
        "activation": c.act, "fused_qkv": c.fused_qkv or c.family == "torch_encoder",
        "fused_gate_up": c.fused_gate_up, "bias": c.bias, "init": c.init, "init_scale": c.init_scale,
        "positions": "learned" if (c.family == "gpt" and c.positions) or (c.family == "bert" and c.vocab) else "none",
        "vocab": c.vocab, "seq": c.T, "batch": c.B, "loss": cfgLoss(c),
        "inputs": ins, "output": {"name": outputName(c), "shape": outputShape(c)},
        "dims": dims, "shared_layers": c.clone_layers, "note": c.note or None,
    }


# float32 results further than this (relative) from float64 are flagged "f32_noise": rounding, not signal
F32_NOISE = 1e-5


def seedStats(name: str, values) -> dict:
    v = np.array(values)
    return {"name": name, "grad_norm_rms": float(np.sqrt(np.mean(v ** 2))), "grad_norm_mean": float(np.mean(v)),
            "grad_norm_min": float(np.min(v)), "grad_norm_max": float(np.max(v))}


def oracle(model, c: Cfg, mapping, coverage, seeds: int):
    """torch.json: float32 seed 0 (with its float64 twin) and float64 statistics over seeds."""
    inputs, targets = draw(c, 0)
    loss32, og32, g32, y32 = forwardBackward(model, c, inputs, targets, torch.float32)
    checkCoverage(c, coverage, g32)
    n32 = gradNorms(mapping, g32)
    model64 = copy.deepcopy(model).double()
    per = []  # per seed, float64: (loss, output-gradient norm, norms by name)
    for s in range(seeds):
        i, t = draw(c, s)
        loss, og, g, y = forwardBackward(model64, c, i, t, torch.float64)
        checkCoverage(c, coverage, g)
        per.append((loss, og, gradNorms(mapping, g)))
        if s == 0:
            outErr = outputError(y32, y)
    for v in [loss32] + [p[0] for p in per]:
        if not math.isfinite(v):
            raise RuntimeError(f"{c.name}: non-finite loss {v}")
    n64 = per[0][2]

    def f32Error(name):
        # how far torch's own float32 result is from float64 on the same draw
        a, b = n32[name], n64[name]
        return {"f32_rel_err": abs(a - b) / b if b > 0 else (0.0 if a == 0 else 1.0),
                "f32_noise": (abs(a - b) > F32_NOISE * b) or (b == 0 and a != 0)}

    seed0, stats, aliasStats = [], [], []
    for e in mapping:
        ent = {"name": e["name"], "shape": e["shape"], "grad_norm": n32[e["name"]],
               "grad_norm_f64": n64[e["name"]], "reached": e["reached"], **f32Error(e["name"]),
               "torch": [{"param": n, "layout": lay, "rows": list(r) if r else None} for n, lay, r in e["entries"]]}
        if len(e["entries"]) > 1:
            attributed = aliasAttribution(e)
            ent["aliases"] = [{"name": a, "grad_norm": n32["alias:" + a], "grad_norm_f64": n64["alias:" + a]}
                              for a in attributed] if attributed else None
            aliasStats += [dict(seedStats(a, [p[2]["alias:" + a] for p in per]), initializer=e["name"])
                           for a in attributed]
        seed0.append(ent)
        stats.append(seedStats(e["name"], [p[2][e["name"]] for p in per]))
        if e["fused"]:
            # a sub-parameter is a row block of the torch weight: a column block when the initializer is transposed
            axis = 0 if e["entries"][0][1] == "identity" else 1
            blk = [s // len(e["fused"]) if i == axis else s for i, s in enumerate(e["shape"])]
            for lab in e["fused"]:
                sub = f"{e['name']}[{lab}]"
                seed0.append({"name": sub, "parent": e["name"], "shape": blk, "grad_norm": n32[sub],
                              "grad_norm_f64": n64[sub], **f32Error(sub)})
                stats.append(dict(seedStats(sub, [p[2][sub] for p in per]), parent=e["name"]))
    return {
        "loss_kind": cfgLoss(c),
        "seed0": {"dtype": "float32", "loss": loss32, "loss_f64": per[0][0], "output_grad_norm": og32,
                  "output_f32_rel_err": outErr, "parameters": seed0},
        "mean": {"dtype": "float64", "seeds": seeds, "loss_mean": float(np.mean([p[0] for p in per])),
                 "output_grad_norm_rms": float(np.sqrt(np.mean([p[1] ** 2 for p in per]))),
                 "parameters": stats, "aliases": aliasStats},
    }


def writeJson(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, sort_keys=True, indent=1, allow_nan=False)
        f.write("\n")


def writeTensor(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name=name).SerializeToString())


def generate(c: Cfg, outDir: str, seeds: int):
    model = buildModel(c)
    blob = exportOnnx(model, c)
    m = onnx.load_from_string(blob)
    onnx.checker.check_model(m)
    mapping, coverage = mapInitializers(model, c, m)
    d = os.path.join(outDir, c.name)
    os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(blob)
    inputs, targets = draw(c, 0)
    for n, a in inputs.items():
        writeTensor(os.path.join(d, "inputs", n + ".pb"), a, n)
    writeTensor(os.path.join(d, "targets.pb"), targets, "targets")
    orc = oracle(model, c, mapping, coverage, seeds)
    writeJson(os.path.join(d, "meta.json"), meta(c))
    writeJson(os.path.join(d, "torch.json"), orc)
    return len(blob), len(mapping)


# --------------------------------------------------------------------------- self-test

def conditioning(cfgs, draws: int = 3):
    """How far one float32 rounding moves each model's float64 gradient norms (seed-0 draw): the
    worst relative change of a parameter's norm (above 1e-6 of the largest) when every weight is
    multiplied by (1 + 6e-8 z), z standard normal, beside torch's own float32-vs-float64 error.
    Where the former is ~1e-4, two float32 executors that round in different places cannot agree
    to 1e-4 (docs/probe.md)."""
    for c in cfgs:
        model = buildModel(c)
        inputs, targets = draw(c, 0)

        def norms(m, dtype):
            g = forwardBackward(m, c, inputs, targets, dtype)[2]
            return {k: float(np.linalg.norm(v)) for k, v in g.items()}

        m64 = copy.deepcopy(model).double()
        base = norms(m64, torch.float64)
        top = max(base.values())
        live = [k for k in base if base[k] > 1e-6 * top]  # not the rounding residue of an exact 0
        f32 = norms(model, torch.float32)
        own = max(abs(f32[k] - base[k]) / base[k] for k in live)
        moved = []
        for d in range(draws):
            mp = copy.deepcopy(m64)
            gen = torch.Generator().manual_seed(d)
            with torch.no_grad():
                for p in mp.parameters():
                    p.mul_(1 + 6e-8 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
            pert = norms(mp, torch.float64)
            moved.append(max(abs(pert[k] - base[k]) / base[k] for k in live))
        print(f"{c.name:34s} torch float32 vs float64 {own:.1e}; one rounding of the weights moves "
              f"float64 norms by up to " + " / ".join(f"{x:.1e}" for x in moved), flush=True)


def selftest(cfgs):
    """Finite differences, closed-form output gradients, mapping round trip, export determinism,
    and for every configuration in cfgs the exported graph against the module (checkAgainstOnnx)."""
    for name in ("gpt_L2_d64", "enc_post_relu_o14", "llama_L8_fused_o17"):
        c = next(x for x in CONFIGS if x.name == name)
        model = buildModel(c)
        blob = exportOnnx(model, c)
        assert blob == exportOnnx(buildModel(c), c), f"{name}: export is not deterministic"
        m = onnx.load_from_string(blob)
        mapping, _ = mapInitializers(model, c, m)
        params = dict(model.named_parameters())
        inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        for e in mapping:  # the mapping reproduces every initializer from torch parameters
            for n, lay, rows in e["entries"]:
                a = params[n].detach().numpy()
                a = a[rows[0]:rows[1]] if rows else a
                assert np.array_equal(a.T if lay == "transpose" else a, inits[e["name"]]), e["name"]

        inputs, targets = draw(c, 0)
        loss32, og32, g32, y32 = forwardBackward(model, c, inputs, targets, torch.float32)
        model64 = copy.deepcopy(model).double()
        loss64, og64, g64, y64 = forwardBackward(model64, c, inputs, targets, torch.float64)

        # output gradient against its closed form
        for y, og, tol in ((y32, og32, 1e-5), (y64, og64, 1e-12)):
            yd = y.detach().double()
            if cfgLoss(c) == "ce":
                N = yd.numel() // yd.shape[-1]
                p = torch.softmax(yd.reshape(N, -1), -1)
                t = torch.from_numpy(targets.reshape(-1))
                onehot = F.one_hot(t, p.shape[-1]).double()
                closed = float(((p - onehot) / N).norm())
                pt = p.gather(1, t[:, None])[:, 0]
                identity = math.sqrt(float((1 + (p ** 2).sum(-1) - 2 * pt).sum())) / N
                assert abs(closed - identity) <= 1e-12 * identity
            else:
                N = yd.numel() // yd.shape[-1]
                closed = float(torch.from_numpy(targets).double().norm()) / N
            rel = abs(og - closed) / closed
            assert rel < tol, f"{name}: output gradient {og} vs closed form {closed} (rel {rel:.2e})"

        # directional finite differences in float64 on the two largest weight matrices
        picks = sorted((n for n, p in params.items() if p.dim() == 2), key=lambda n: -params[n].numel())[:2]
        p64 = dict(model64.named_parameters())
        i64 = [toTorch(inputs[n], torch.float64) for n, _, _, _ in inputSpecs(c)]
        t64 = toTorch(targets, torch.float64)

        def lossAt(pn, u, eps):
            with torch.no_grad():
                base = p64[pn].detach().clone()
                p64[pn].add_(eps * u)
                v = float(referenceLoss(c, model64(*i64), t64))
                p64[pn].copy_(base)
            return v

        rng = np.random.default_rng(7)
        fused = fusedParams(model, c)
        checks = [(pn, None) for pn in picks] + [(pn, i) for pn in sorted(fused)[:1] for i in range(len(fused[pn]))]
        for pn, block in checks:
            # along the float32 gradient (or one fused block of it) the derivative is that (block's) norm
            u = np.zeros_like(g32[pn])
            if block is None:
                u[:] = g32[pn]
            else:
                step = u.shape[0] // len(fused[pn])
                u[block * step:(block + 1) * step] = g32[pn][block * step:(block + 1) * step]
            gn32 = norm(u)
            u /= gn32
            eps = 1e-6 * float(p64[pn].detach().norm())
            fd = (lossAt(pn, torch.from_numpy(u), eps) - lossAt(pn, torch.from_numpy(u), -eps)) / (2 * eps)
            rel = abs(fd - gn32) / gn32
            label = pn if block is None else f"{pn}[{fused[pn][block]}]"
            assert rel < 1e-3, f"{name}: {label} float32 |g|={gn32:.6e} vs finite difference {fd:.6e} (rel {rel:.2e})"
            w = rng.standard_normal(g64[pn].shape)
            w /= np.linalg.norm(w)
            fdr = (lossAt(pn, torch.from_numpy(w), eps) - lossAt(pn, torch.from_numpy(w), -eps)) / (2 * eps)
            relr = abs(fdr - float(np.sum(g64[pn] * w))) / norm(g64[pn])
            assert relr < 1e-6, f"{name}: {label} random-direction finite difference off by {relr:.2e} of |g|"
            print(f"selftest {name}: {label}: |g|32={gn32:.6e} fd={fd:.6e} rel={rel:.1e}; random dir rel={relr:.1e}")
        print(f"selftest {name}: output gradient matches closed form; mapping reproduces {len(mapping)} initializers")
    for c in cfgs:
        checkAgainstOnnx(c)
    print("selftest passed")


def numpyLoss(c: Cfg, y: np.ndarray, targets: np.ndarray) -> float:
    """The reference loss of DESIGN section 3, in numpy."""
    rows = y.size // y.shape[-1]
    if cfgLoss(c) == "ce":
        z = y.reshape(rows, -1)
        m = z.max(-1, keepdims=True)
        lse = (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))[:, 0]
        return float(np.mean(lse - z[np.arange(rows), targets.reshape(-1)]))
    return float(np.sum(targets * y) / rows)


def outputError(y32, y64) -> float:
    """max |y32 - y64| / max |y64| of the first output."""
    a, b = y32.detach().double().numpy(), y64.detach().numpy()
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def checkAgainstOnnx(c: Cfg):
    """The exported graph (run by onnxref) equals the module, and finite differences on ONNX
    initializers (float64) reproduce the oracle's norms, shared and sliced initializers included."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.dont_write_bytecode = True
    import onnxref

    model = buildModel(c)
    m = onnx.load_from_string(exportOnnx(model, c))
    mapping, _ = mapInitializers(model, c, m)
    inputs, targets = draw(c, 0)
    _, _, _, y32 = forwardBackward(model, c, inputs, targets, torch.float32)
    model64 = copy.deepcopy(model).double()
    _, _, g64, y64 = forwardBackward(model64, c, inputs, targets, torch.float64)
    # float32 may differ as much as torch's float32 differs from float64 (chaotic, saturated models);
    # in float64 the ONNX graph still holds its constants (1/sqrt(d), eps) in float32
    tol32 = max(1e-4, 10 * outputError(y32, y64))
    for f64, ref, tol in ((False, y32, tol32), (True, y64, 1e-6)):
        out = onnxref.run(m, inputs, f64=f64)[0]
        ref = ref.detach().numpy()
        err = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
        assert out.shape == ref.shape and err < tol, f"{c.name}: ONNX output differs from torch by {err:.2e} (f64={f64})"

    norms = gradNorms(mapping, g64)
    top = max(norms[e["name"]] for e in mapping)
    usable = [e for e in mapping if norms[e["name"]] > 1e-6 * top]
    single = lambda e: len(e["entries"]) == 1 and e["entries"][0][2] is None and not e["fused"]
    picks = {}
    for why, pred in (("shared", lambda e: len(e["entries"]) > 1), ("fused", lambda e: e["fused"]),
                      ("rows", lambda e: e["entries"][0][2] is not None),
                      ("transposed", lambda e: single(e) and e["entries"][0][1] == "transpose"),
                      ("identity", lambda e: single(e) and e["entries"][0][1] == "identity")):
        cand = [e for e in usable if pred(e)]
        if cand:
            picks[why] = max(cand, key=lambda e: (len(e["entries"]), norms[e["name"]]))
    base = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in m.graph.initializer}
    checks = [(e, None) for e in picks.values()]
    if "fused" in picks:
        checks += [(picks["fused"], i) for i in range(len(picks["fused"]["fused"]))]
    loss0, skipped = numpyLoss(c, onnxref.run(m, inputs, f64=True)[0], targets), []
    for e, block in checks:
        # along the initializer's gradient (or one sub-parameter block of it) the derivative is its norm
        g = onnxGrad(e, g64)
        name = e["name"]
        if block is not None:
            axis = 0 if e["entries"][0][1] == "identity" else 1
            step = g.shape[axis] // len(e["fused"])
            keep = np.zeros_like(g)
            sl = [slice(None)] * g.ndim
            sl[axis] = slice(block * step, (block + 1) * step)
            keep[tuple(sl)] = g[tuple(sl)]
            g, name = keep, f"{name}[{e['fused'][block]}]"
        want = norms[name]
        u = g / norm(g)
        # the smallest step whose float64 rounding error stays near 1e-7 of the derivative (saturated
        # models are piecewise-smooth at a fine scale); a derivative that needs a large step is skipped
        eps = 1e-8 * abs(loss0) / want
        if eps > 1e-4 * max(norm(base[e["name"]]), 1.0):
            skipped.append(name)
            continue

        def central(h):
            lp, lm = (numpyLoss(c, onnxref.run(m, inputs, f64=True, overrides={e["name"]: base[e["name"]] + s * h * u})[0],
                                targets) for s in (1, -1))
            return (lp - lm) / (2 * h)

        fd = (4 * central(eps / 2) - central(eps)) / 3  # Richardson: the h^2 error term cancels
        rel = abs(fd - want) / want
        assert rel < 1e-5, f"{c.name}: initializer {name}: ONNX finite difference {fd:.8e} vs oracle {want:.8e}"
    print(f"selftest {c.name}: ONNX graph matches torch; finite differences on "
          + ", ".join(f"{w} {e['name']}" for w, e in picks.items()) + " (and sub-blocks) match the oracle"
          + (f"; too small to check: {', '.join(skipped)}" if skipped else ""), flush=True)



# --------------------------------------------------------------------------- CLI

def features(c: Cfg) -> str:
    """A few words on what distinguishes a configuration's graph."""
    f = []
    if c.family == "torch_encoder":
        f.append("nn.MultiheadAttention in_proj")
        if c.clone_layers:
            f.append("cloned layers share initializers")
    elif cfgKind(c) != "mlp":
        f.append("fused qkv" if c.fused_qkv else "separate q/k/v")
        if c.mask == "causal":
            f.append(("tril buffer" if c.mask_src == "buffer" else "Trilu mask") + (" -inf" if c.mask_fill == "inf" else " additive"))
        if c.fused_gate_up:
            f.append("fused gate/up")
        if c.family == "gpt":
            f.append("learned positions" if c.positions else "no positions")
        if not c.bias:
            f.append("no biases")
    else:
        f.append("embedding" if c.vocab else "float input")
    return ", ".join(f)


def tableMarkdown(cfgs) -> str:
    rows = ["| name | kind | blocks | d_model | heads | d_ff | norm | act | scale | opset | folding | dims | init | loss | graph |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cfgs:
        mt = meta(c)
        norm_ = mt["norm"] + ("" if mt["norm"] == "none" else " " + mt["norm_type"])
        rows.append(f"| {c.name} | {mt['kind']} | {mt['blocks'] or ('mlp ' + str(c.L))} | {c.d} | "
                    f"{mt['heads'] or '-'} | {mt['d_ff']} | {norm_}{'' if mt['residual'] or mt['kind'] == 'mlp' else ', no residual'} | "
                    f"{c.act} | {mt['scale_style']} | {c.opset} | {'on' if c.fold else 'off'} | "
                    f"{'B=%d T=%d' % (c.B, c.T) if c.dynamic else 'static %dx%d' % (c.B, c.T)} | "
                    f"{c.init}{'' if c.init_scale == 1 else ' x' + str(c.init_scale)} | {cfgLoss(c)} | {features(c)} |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description="gradlint model zoo and PyTorch oracle")
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="generate only these configurations")
    ap.add_argument("--list", action="store_true", help="print the configuration table (markdown)")
    # 256: the RMS over seeds of a heavy-tailed gradient (rare softmax near-ties in saturated
    # attention) converges slowly; the analysis is scored against it (docs/analysis.md,
    # "Accuracy on the zoo": 4 seeds did not reproduce their own ranking on such a model).
    ap.add_argument("--seeds", type=int, default=256, help="seeds for the float64 statistics (default 256)")
    ap.add_argument("--force", action="store_true",
                    help="regenerate even when DIR holds a zoo from the same scripts, seeds and torch")
    ap.add_argument("--selftest", action="store_true", help="check the oracle against finite differences")
    ap.add_argument("--conditioning", action="store_true",
                    help="how far one float32 rounding of the weights moves each model's gradient norms")
    ap.add_argument("--example", metavar="PATH", help=f"write the {EXAMPLE_CONFIG} model.onnx to PATH")
    a = ap.parse_args(argv)

    names = [c.name for c in CONFIGS]
    assert len(set(names)) == len(names), "duplicate configuration names"
    if a.list:
        print(tableMarkdown(CONFIGS))
        return 0
    if a.selftest:
        selftest([c for c in CONFIGS if not a.only or c.name in a.only])
        return 0
    if a.conditioning:
        conditioning([c for c in CONFIGS if not a.only or c.name in a.only])
        return 0
    if a.example:
        c = next(x for x in CONFIGS if x.name == EXAMPLE_CONFIG)
        with open(a.example, "wb") as f:
            f.write(exportOnnx(buildModel(c), c))
        return 0
    if not a.out:
        ap.error("--out is required")
    cfgs = CONFIGS
    if a.only:
        unknown = sorted(set(a.only) - set(names))
        if unknown:
            ap.error("unknown configuration(s): " + ", ".join(unknown))
        cfgs = [c for c in CONFIGS if c.name in a.only]
    # A zoo is a pure function of these scripts, the seeds and torch: reuse it when those match.
    stamp = os.path.join(a.out, "zoo.stamp")
    key = zooKey(a.seeds, [c.name for c in cfgs])
    if not a.force and os.path.exists(stamp) and open(stamp).read() == key and \
            all(os.path.exists(os.path.join(a.out, c.name, "torch.json")) for c in cfgs):
        print(f"{a.out}: up to date ({len(cfgs)} models, {a.seeds} seeds; --force regenerates)")
        return 0
    if os.path.exists(stamp):
        os.remove(stamp)
    total = time.time()
    for c in cfgs:
        t0 = time.time()
        size, nparams = generate(c, a.out, a.seeds)
        print(f"{c.name:34s} {size / 1024:8.1f} KiB {nparams:4d} initializers {time.time() - t0:6.1f} s", flush=True)
    print(f"{len(cfgs)} models in {time.time() - total:.1f} s", flush=True)
    with open(stamp, "w") as f:
        f.write(key)
    return 0


def zooKey(seeds: int, names) -> str:
    """What a generated zoo depends on: this folder's scripts, the seeds, the models, torch."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = zlib.crc32(f"{seeds} {torch.__version__} {onnx.__version__} {' '.join(names)}".encode())
    for f in sorted(os.listdir(here)):
        if f.endswith(".py"):
            with open(os.path.join(here, f), "rb") as fh:
                h = zlib.crc32(fh.read(), h)
    return f"{h:08x}\n"


if __name__ == "__main__":
    sys.exit(main())
