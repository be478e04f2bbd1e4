#!/usr/bin/python3
"""gradlint's HTML report in a real browser (issue 7).

For a model with hostile names (written here, protobuf by hand: the Python
standard library only) and for healthy and pathological zoo models, runs
`gradlint check --format json --html`, loads the page in headless Chromium and
checks the DOM after the page's script ran:

  * the script finished (<html data-ready="1">) and reported no error
    (no data-errors; window.onerror writes it), and the console is silent
    (no CONSOLE lines: script errors, CSP violations, blocked requests);
  * the chart, the block diagram, the findings and the parameter table are
    there with the counts that `--format json` gives for the same run, and
    each block tile has the colour of its worst finding;
  * with --probe: measured marks, the loss curve and the update ratios;
  * the hostile model's payloads stayed text: no <img>, no third <script>,
    no on* attribute, no data-pwned attribute anywhere;
  * report.html#block=N filters the table and findings to block N;

and saves a PNG screenshot of each page (1280 px wide) in --out, which CI
keeps as an artifact. Without Chromium it exits 77 (CTest: skipped) and says why.

Usage: browser_test.py --gradlint BIN --zoo DIR --out DIR [--chromium PATH]
"""

import argparse
import html.parser
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77

# --------------------------------------------------------------- the hostile model

HOSTILE_DIM = "<b>batch</b>"
HOSTILE = {
    "producer": "</title></script><script>document.documentElement.setAttribute('data-pwned','producer')</script>\u2028",
    "doc": "</pre></details><script>document.documentElement.setAttribute('data-pwned','doc')</script>\u2029 -->",
    "matmul": "<script>document.documentElement.setAttribute('data-pwned','node')</script>",
    "weight": "W\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','init')\">",
    "tanh": "</code></p><svg onload=\"document.documentElement.setAttribute('data-pwned','svg')\">'",
}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    """One protobuf field: ints as varints, str/bytes length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode("utf-8")
    return varint(number << 3 | 2) + varint(len(value)) + value


def value_info(name, dims):
    """A float tensor's ValueInfoProto; dims None: no shape."""
    tensor_type = field(1, 1)
    if dims is not None:
        shape = b"".join(field(1, field(1, d) if isinstance(d, int) else field(2, d)) for d in dims)
        tensor_type += field(2, shape)
    return field(1, name) + field(2, field(1, tensor_type))


def hostile_model():
    """x[HOSTILE_DIM, 16] -> MatMul(W = 3.0) -> Tanh, every name hostile.
    GL109 (saturated tanh) and GL111 (init scale) name the nodes and W."""
    h = HOSTILE
    weight = field(1, 16) + field(1, 16) + field(2, 1) + field(8, h["weight"]) + \
        field(9, struct.pack("<256f", *([3.0] * 256)))
    graph = b"".join([
        field(1, field(1, "x") + field(1, h["weight"]) + field(2, "h") + field(3, h["matmul"]) +
              field(4, "MatMul")),
        field(1, field(1, "h") + field(2, "y") + field(3, h["tanh"]) + field(4, "Tanh")),
        field(2, "hostile"),
        field(5, weight),
        field(11, value_info("x", [HOSTILE_DIM, 16])),
        field(12, value_info("y", None)),
    ])
    return b"".join([field(1, 8), field(2, h["producer"]), field(6, h["doc"]), field(7, graph),
                     field(8, field(1, "") + field(2, 17))])

# --------------------------------------------------------------- the DOM


class Dom(html.parser.HTMLParser):
    """What the checks need from the dumped DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = {}
        self.counts = {}
        self.figure = None
        self.flow_cols = set()
        self.tiles = {}          # block -> class
        self.rows = []           # (data-block, hidden)
        self.findings = []       # (data-block, hidden)
        self.offenders = []      # injected elements or attributes
        self.verdict = ""
        self.figures = {}        # id -> attributes

    def count(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "html":
            self.root = a
        for name, _ in attrs:
            if name.startswith("on") or name == "data-pwned":
                self.offenders.append(f"<{tag} {name}>")
        if tag in ("img", "iframe", "object", "embed", "link", "base"):
            self.offenders.append(f"<{tag}>")
        self.count(tag)
        if tag == "figure":
            self.figure = a.get("id")
            self.figures[self.figure] = a
        if tag == "circle" and "pt" in cls:
            self.count(f"pt:{self.figure}")
            if self.figure == "flow-chart":
                self.flow_cols.add(a.get("data-col"))
        if tag == "path" and "ms" in cls:
            self.count(f"ms:{self.figure}")
        if tag == "g" and "series" in cls:
            self.count(f"series:{self.figure}")
        if tag == "button" and "blk" in cls:
            self.tiles[int(a["data-block"])] = cls
        if tag == "tr" and "data-block" in a:
            self.rows.append((a["data-block"], "hidden" in a))
        if tag == "li" and "finding" in cls:
            self.findings.append((a.get("data-block"), "hidden" in a))
        if tag == "section" and "rule" in cls:
            self.count("rule")
        if tag == "div" and "verdict" in cls:
            self.verdict = " ".join(cls)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figure = None

# --------------------------------------------------------------- running things


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        if not ok:
            self.items.append(what)
        return ok


def chromium_command(chromium, profile):
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]


def browse(chromium, url, *flags):
    """(stdout, console lines) of one headless run."""
    profile = tempfile.mkdtemp(prefix="gradlint-chromium-")
    try:
        p = subprocess.run(chromium_command(chromium, profile) + list(flags) + [url],
                           capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return p.stdout, console, p.returncode


def expected_worst(findings, block):
    order = {"note": 0, "warning": 1, "error": 2}
    levels = [f["severity"] for f in findings if f.get("block") == block]
    return max(levels, key=order.get) if levels else "ok"


def check_case(name, args, opts, chromium, fails, probe_steps=None):
    out = opts.out
    page = os.path.join(out, f"{name}.html")
    report = os.path.join(out, f"{name}.json")
    cmd = [opts.gradlint, "check"] + args + ["--format", "json", "-o", report, "--html", page]
    if probe_steps is not None:
        cmd += ["--probe", "--steps", str(probe_steps)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if not fails.check(p.returncode in (0, 1), f"{name}: gradlint exit {p.returncode}: {p.stderr.strip()}"):
        return
    with open(report) as f:
        j = json.load(f)
    params, findings, blocks = j["parameters"], j["findings"], j["blocks"]
    size = os.path.getsize(page)
    url = "file://" + os.path.abspath(page)

    dom_text, console, rc = browse(chromium, url, "--dump-dom")
    dom = Dom()
    dom.feed(dom_text)
    c = dom.counts
    where = f"{name}: "
    fails.check(rc == 0 and dom.root, where + f"chromium exit {rc}, no DOM")
    fails.check(not console, where + "console messages:\n    " + "\n    ".join(console))
    fails.check(dom.root.get("data-ready") == "1", where + "the page's script did not finish")
    fails.check("data-errors" not in dom.root, where + f"script errors: {dom.root.get('data-errors')}")
    fails.check(not dom.offenders, where + f"injected markup: {dom.offenders}")
    fails.check(c.get("script") == 2, where + f"{c.get('script')} script elements, expected 2")
    # Parameter table, findings, blocks: the JSON's counts.
    fails.check(len(dom.rows) == len(params), where + f"{len(dom.rows)} table rows, json has {len(params)}")
    fails.check(not any(h for _, h in dom.rows), where + "rows hidden without a filter")
    fails.check(len(dom.findings) == len(findings),
                where + f"{len(dom.findings)} findings rendered, json has {len(findings)}")
    rules = len({f["rule"] for f in findings})
    fails.check(c.get("rule", 0) == rules, where + f"{c.get('rule', 0)} rule groups, expected {rules}")
    fails.check(len(dom.tiles) == len(blocks), where + f"{len(dom.tiles)} block tiles, json has {len(blocks)}")
    for b in range(len(blocks)):
        want = "sev-" + expected_worst(findings, b)
        fails.check(want in dom.tiles.get(b, []), where + f"block {b} tile {dom.tiles.get(b)}, expected {want}")
    worst = expected_worst([dict(f, block=0) for f in findings], 0)
    fails.check(f"sev-{worst}" in dom.verdict, where + f"verdict '{dom.verdict}', expected sev-{worst}")
    # The chart: a point in every block's column, series drawn, marks with --probe.
    points = c.get("pt:flow-chart", 0)
    fails.check(points > 0 and c.get("series:flow-chart", 0) > 0, where + "the gradient-flow chart is empty")
    fails.check(len(dom.flow_cols) >= len(blocks), where + f"chart columns {len(dom.flow_cols)} < {len(blocks)} blocks")
    for k, v in (("params", len(params)), ("findings", len(findings)), ("blocks", len(blocks)),
                 ("points", points)):
        fails.check(dom.root.get(f"data-rendered-{k}") == str(v),
                    where + f"data-rendered-{k}={dom.root.get(f'data-rendered-{k}')}, expected {v}")
    if probe_steps is not None:
        fails.check(c.get("ms:flow-chart", 0) >= len(blocks), where + "no measured marks in the chart")
        fails.check(c.get("pt:loss-chart", 0) == probe_steps + 1, where + f"loss curve has {c.get('pt:loss-chart', 0)} points")
        fails.check(c.get("series:update-chart", 0) >= len(blocks), where + "update ratios missing")

    # report.html#block=N shows only block N.
    if blocks:
        b = len(blocks) // 2
        dom_text, console, _ = browse(chromium, url + f"#block={b}", "--dump-dom")
        f = Dom()
        f.feed(dom_text)
        shown = [r for r, hidden in f.rows if not hidden]
        want = sum(1 for p in params if p.get("block") == b)
        fails.check(f.root.get("data-block-filter") == str(b), where + f"#block={b} did not select the block")
        fails.check(len(shown) == want and all(r == str(b) for r in shown),
                    where + f"#block={b}: {len(shown)} rows shown, expected {want}")
        fails.check(all(fb == str(b) for fb, hidden in f.findings if not hidden),
                    where + f"#block={b}: findings of other blocks shown")
        fails.check(not console, where + f"#block={b}: console messages: {console}")

    png = os.path.join(out, f"{name}.png")
    _, console, rc = browse(chromium, url, "--hide-scrollbars", "--window-size=1280,2000",
                            f"--screenshot={png}")
    ok = os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    fails.check(ok, where + f"no screenshot (chromium exit {rc})")
    print(f"{name}: {len(params)} parameters, {len(findings)} findings, {len(blocks)} blocks, "
          f"{points} chart points, {size / 1024:.0f} KiB, screenshot {png}", flush=True)


def find_chromium(given):
    for c in [given, "chromium", "chromium-browser", "google-chrome"]:
        if c and shutil.which(c):
            return shutil.which(c)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gradlint", required=True)
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chromium")
    opts = ap.parse_args()
    chromium = find_chromium(opts.chromium)
    if not chromium:
        print("SKIPPED: no chromium on PATH (apt-get install chromium); the HTML report "
              "was not checked in a browser")
        return SKIP
    os.makedirs(opts.out, exist_ok=True)
    fails = Failures()

    hostile = os.path.join(opts.out, "hostile.onnx")
    with open(hostile, "wb") as f:
        f.write(hostile_model())
    check_case("hostile", [hostile, "--dim", f"{HOSTILE_DIM}=4"], opts, chromium, fails)

    zoo = [("gpt_L6_post", 4), ("gpt_L8_tanh_init8", 4), ("gpt_L6_noresidual", None),
           ("gpt_L48_d32_o14", None)]
    for name, steps in zoo:
        d = os.path.join(opts.zoo, name)
        if not fails.check(os.path.exists(os.path.join(d, "model.onnx")),
                           f"{name}: not in the zoo at {opts.zoo} (fixture zoo.generate)"):
            continue
        with open(os.path.join(d, "meta.json")) as f:
            dims = json.load(f)["dims"]
        args = [os.path.join(d, "model.onnx")]
        for k, v in sorted(dims.items()):
            args += ["--dim", f"{k}={v}"]
        check_case(name, args, opts, chromium, fails, steps)

    for f in fails.items:
        print("FAIL: " + f)
    print(f"{len(fails.items)} failures; pages and screenshots in {opts.out}")
    return 1 if fails.items else 0


if __name__ == "__main__":
    sys.exit(main())
