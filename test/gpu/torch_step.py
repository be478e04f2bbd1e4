#!/usr/bin/env python3
"""One training step of bench/make_gpt2.py's GPT in PyTorch on CUDA: the reference that
test/gpu/run.sh compares `gradlint probe --device cuda` with.

    python3 test/gpu/torch_step.py --batch 8 --seq 128 [--steps 20] [--write-inputs DIR]

Float32 with TF32 off (as gradlint's default). A step is what one gradlint probe step does:
forward, cross-entropy (mean over all B*T rows, targets uniform over [0, V)), backward, and an
SGD update (lr 1e-3). Weights are make_gpt2.py's (torch.manual_seed(0) before construction), so
the loss at step 0 equals gradlint's when it is given the same token ids and targets
(--write-inputs writes them as TensorProto files for `--input input_ids=... --targets ...`).

Prints one JSON object: step_ms (median of --steps timed steps after 3 warm-up steps),
fwd_bwd_ms (forward, loss and backward only), loss0, device, torch.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from make_gpt2 import GPT  # noqa: E402


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tensor_proto(name, t):
    """An int64 onnx.TensorProto (dims=1, data_type=2, name=8, raw_data=9), without onnx."""
    raw = t.detach().cpu().contiguous().numpy().astype("<i8").tobytes()
    msg = b"".join(b"\x08" + varint(d) for d in t.shape)
    msg += b"\x10" + varint(7)  # INT64
    msg += b"\x42" + varint(len(name)) + name.encode()
    msg += b"\x4a" + varint(len(raw)) + raw
    return msg


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--write-inputs", metavar="DIR")
    a = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_step.py: this PyTorch has no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")

    torch.manual_seed(0)
    m = GPT(a.layers, a.width, a.heads, a.vocab, a.seq).to(dev).train()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
    targets = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
    if a.write_inputs:
        os.makedirs(a.write_inputs, exist_ok=True)
        with open(os.path.join(a.write_inputs, "input_ids.pb"), "wb") as f:
            f.write(tensor_proto("input_ids", ids))
        with open(os.path.join(a.write_inputs, "targets.pb"), "wb") as f:
            f.write(tensor_proto("targets", targets))
    ids, targets = ids.to(dev), targets.to(dev)
    pos = torch.arange(a.seq, device=dev)

    def forward():
        x = m.wte(ids) + m.wpe(pos)
        for b in m.h:
            x = b(x)
        return m.head(m.ln_f(x))

    opt = torch.optim.SGD(m.parameters(), lr=a.lr)

    def step(update=True):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward().view(-1, a.vocab), targets.view(-1))
        loss.backward()
        if update:
            opt.step()
        return loss

    loss0 = step(update=False).item()
    for _ in range(3):
        step()
    torch.cuda.synchronize()

    def timed(update):
        times = []
        for _ in range(a.steps):
            t = time.perf_counter()
            step(update)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    step_ms = timed(True)
    fwd_bwd_ms = timed(False)
    print(json.dumps({"step_ms": step_ms, "fwd_bwd_ms": fwd_bwd_ms, "loss0": loss0,
                      "device": torch.cuda.get_device_name(0), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
