#!/usr/bin/python3
"""Writes a GPT-2-small-shaped model (12 layers, width 768, 12 heads, vocab 50257,
~124 M parameters, PyTorch default init) as ONNX for the benchmarks.

    /usr/bin/python3 bench/make_gpt2.py OUT.onnx [--layers 12] [--width 768] [--seq 128]

Generated locally: nothing is downloaded. Deterministic for a given seed.
"""
import argparse, math, sys
import torch
import torch.nn as nn

class Block(nn.Module):
    def __init__(self, d, h, t):
        super().__init__()
        self.h, self.d = h, d
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(t, t)).view(1, 1, t, t))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.h, C // self.h).transpose(1, 2)
        k = k.view(B, T, self.h, C // self.h).transpose(1, 2)
        v = v.view(B, T, self.h, C // self.h).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.h)
        a = a.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf")).softmax(-1)
        y = (a @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.proj(nn.functional.gelu(self.fc(self.ln_2(x)), approximate="tanh"))

class GPT(nn.Module):
    def __init__(self, layers, d, heads, vocab, t):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(t, d)
        self.h = nn.ModuleList(Block(d, heads, t) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for b in self.h:
            x = b(x)
        return self.head(self.ln_f(x))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--seq", type=int, default=128)
    a = p.parse_args()
    torch.manual_seed(0)
    m = GPT(a.layers, a.width, a.heads, a.vocab, a.seq).eval()
    ids = torch.zeros(1, a.seq, dtype=torch.long)
    torch.onnx.export(m, (ids,), a.out, opset_version=17, input_names=["input_ids"],
                      output_names=["logits"], do_constant_folding=True,
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch", 1: "sequence"}})
    print(f"{a.out}: {sum(p.numel() for p in m.parameters())} parameters", file=sys.stderr)

if __name__ == "__main__":
    main()
