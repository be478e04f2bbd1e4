#!/usr/bin/python3
"""Mutation fuzz of gradlint's input handling (docs/limits.md).

Each draw damages a model (by default examples/tiny-gpt.onnx) and runs one gradlint command on it.
Every run must exit 0, 1 or 2; exit 2 must print exactly one line on stderr; stderr must be UTF-8.
Anything else (a signal, an abort, a second line) is printed with the draw's seed, so
`--only SEED --keep FILE` writes that model for a debugger.

  /usr/bin/python3 tools/fuzz.py BINARY [--command check] [--mode bytes|structure] [--draws 300]
                                 [--start 0] [--model PATH] [--only SEED --keep FILE]

bytes: 1-4 random bytes overwritten. structure: 1-3 mutations of int attributes, initializer and
input dims, node inputs, op types (through the onnx package). Run a sanitizer build as BINARY with
ASAN_OPTIONS=detect_leaks=0:exitcode=99 to turn memory errors into exit 99.
"""
import argparse, collections, copy, os, random, subprocess, sys, tempfile

import onnx


def byteDraw(base: bytes, r: random.Random) -> bytes:
    d = bytearray(base)
    for _ in range(r.randint(1, 4)):
        d[r.randrange(len(d))] = r.randrange(256)
    return bytes(d)


def structureDraw(base: onnx.ModelProto, r: random.Random) -> bytes:
    m = copy.deepcopy(base)
    g = m.graph
    INTS = (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)
    for _ in range(r.randint(1, 3)):
        k = r.randrange(5)
        if k == 0:  # an int attribute (axis, perm, ...)
            nodes = [n for n in g.node if any(a.type in INTS for a in n.attribute)]
            if nodes:
                a = r.choice([a for a in r.choice(nodes).attribute if a.type in INTS])
                if a.type == onnx.AttributeProto.INT:
                    a.i = r.choice([-5, -1, 0, 1, 2, 3, 7, 1 << 40, -(1 << 40)])
                elif a.ints:
                    a.ints[r.randrange(len(a.ints))] = r.choice([-3, 0, 1, 2, 5, 1 << 33])
        elif k == 1 and len(g.initializer):  # an initializer's dims lie
            t = r.choice(list(g.initializer))
            if t.dims:
                t.dims[r.randrange(len(t.dims))] = r.choice([0, 1, 3, 1 << 31, -1, 1 << 62])
        elif k == 2:  # a node reads another value, or none
            n = r.choice(list(g.node))
            if n.input:
                n.input[r.randrange(len(n.input))] = r.choice([o for x in g.node for o in x.output] + [""])
        elif k == 3:  # another op type
            r.choice(list(g.node)).op_type = r.choice(
                ["Add", "MatMul", "Softmax", "Transpose", "Reshape", "Gather", "LayerNormalization",
                 "Concat", "Slice", "Where"])
        elif len(g.input):  # a graph input's dims
            d = r.choice(list(g.input)).type.tensor_type.shape.dim
            if d:
                d[r.randrange(len(d))].dim_value = r.choice([0, 1, 7, 100000, 1 << 40])
    return m.SerializeToString()


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--command", default="check")
    ap.add_argument("--mode", choices=["bytes", "structure"], default="structure")
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--model", default=os.path.join(here, "..", "examples", "tiny-gpt.onnx"))
    ap.add_argument("--only", type=int, help="one draw: this seed")
    ap.add_argument("--keep", help="with --only: write the damaged model here")
    a = ap.parse_args()
    raw = open(a.model, "rb").read()
    proto = onnx.load_from_string(raw)
    seeds = [a.only] if a.only is not None else range(a.start, a.start + a.draws)
    codes, bad = collections.Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        path = a.keep or os.path.join(tmp, "fuzz.onnx")
        for seed in seeds:
            r = random.Random(seed)
            data = byteDraw(raw, r) if a.mode == "bytes" else structureDraw(proto, r)
            with open(path, "wb") as f:
                f.write(data)
            try:
                p = subprocess.run([a.binary, a.command, path], capture_output=True, timeout=600)
            except subprocess.TimeoutExpired:
                bad.append((seed, "timeout after 600 s"))
                continue
            codes[p.returncode] += 1
            try:
                err = p.stderr.decode("utf-8")
            except UnicodeDecodeError:
                bad.append((seed, "stderr is not UTF-8"))
                continue
            if p.returncode not in (0, 1, 2):
                bad.append((seed, f"exit {p.returncode}: " + err.strip()[-300:]))
            elif p.returncode == 2 and len(err.strip().splitlines()) != 1:
                bad.append((seed, "exit 2 with more than one line: " + err.strip()[:300]))
    print(f"{a.command} on {a.mode} draws {seeds[0]}..{seeds[-1]}: exit codes "
          + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
    for seed, why in bad:
        print(f"  seed {seed}: {why}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
