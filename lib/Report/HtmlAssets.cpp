//===- HtmlAssets.cpp - the HTML report's stylesheet and script -----------===//
//
// Light and dark colours (prefers-color-scheme), a print layout, and a small
// vanilla script: tooltips, legend toggles, the block filter, table sorting
// and filtering, and a self-check of the rendered page against the embedded
// data, whose outcome (data-ready, data-rendered-*, data-errors on <html>)
// the browser test reads.
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"

using namespace gradlint;

static const char Style[] = R"css(
:root{--bg:#fff;--fg:#1d232a;--muted:#5f6b76;--line:#d9dee4;--panel:#f4f6f8;
--err:#c62828;--warn:#a86200;--note:#1565c0;--ok:#2e7d32;
--errbg:#fdeceb;--warnbg:#fff3df;--notebg:#e9f1fb;--okbg:#ebf5ec;--stream:#3b4650;
--p0:#4e79a7;--p1:#f28e2b;--p2:#e15759;--p3:#76b7b2;--p4:#59a14f;--p5:#c9a227;
--p6:#b07aa1;--p7:#ff9da7;--p8:#9c755f;--p9:#8f8a86;--p10:#17becf;--p11:#6b4c9a}
@media (prefers-color-scheme:dark){:root{--bg:#15191d;--fg:#e2e6ea;--muted:#9ba5af;
--line:#343c45;--panel:#1e242a;--err:#f07470;--warn:#f0a848;--note:#6aaaf0;--ok:#6cc070;
--errbg:#3a2020;--warnbg:#382b15;--notebg:#172638;--okbg:#1a2d1d;--stream:#c9d1d9;
--p0:#7aa7d6;--p1:#f5a35a;--p2:#f07d7f;--p3:#8fd0cb;--p4:#7cc26f;--p5:#e8cb5a;
--p6:#cf9cc2;--p7:#ffb3bb;--p8:#c49a80;--p9:#b5b0ac;--p10:#4fd5e3;--p11:#a58bd0}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg)}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header.top,main,footer,nav.toc{max-width:1240px;margin:0 auto;padding:0 20px}
h1{font-size:20px;margin:18px 0 10px;word-break:break-all}
h1 .brand{color:var(--muted);font-weight:500;margin-right:6px}
h2{font-size:18px;margin:28px 0 6px;padding-top:6px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.9em}
code{word-break:break-all}
a{color:var(--note)}
.lead{color:var(--muted);margin:4px 0 10px;max-width:980px}
.note{color:var(--muted);font-size:12px}
.bad{color:var(--err)}
.verdict{border-radius:6px;padding:10px 14px;margin:8px 0 12px;border-left:6px solid var(--ok);background:var(--okbg);font-size:15px}
.verdict a{color:inherit}
.sev-error{--sev:var(--err);--sevbg:var(--errbg)}
.sev-warning{--sev:var(--warn);--sevbg:var(--warnbg)}
.sev-note{--sev:var(--note);--sevbg:var(--notebg)}
.sev-ok{--sev:var(--ok);--sevbg:var(--okbg)}
.verdict[class*=sev-]{border-left-color:var(--sev);background:var(--sevbg)}
dl.facts{display:grid;grid-template-columns:repeat(3,max-content minmax(0,1fr));gap:2px 10px;margin:0 0 8px}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0 12px 0 0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
pre.cmd{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:6px 10px;white-space:pre-wrap;word-break:break-all;margin:6px 0}
details.docstring pre{white-space:pre-wrap;background:var(--panel);padding:8px;border-radius:6px}
nav.toc{position:sticky;top:0;z-index:5;background:var(--bg);display:flex;gap:16px;align-items:center;padding-top:6px;padding-bottom:6px;border-bottom:1px solid var(--line)}
nav.toc a{text-decoration:none;font-weight:500}
.filter-chip{margin-left:auto;background:var(--notebg);border:1px solid var(--note);border-radius:12px;padding:1px 4px 1px 10px}
.filter-chip button,.filtered button{background:none;border:0;color:inherit;font:inherit;cursor:pointer}
.filtered{background:var(--notebg);padding:4px 10px;border-radius:6px}
[hidden]{display:none!important}
figure.chart{margin:6px 0 10px}
svg{width:100%;height:auto;display:block;overflow:visible}
.axis .grid{stroke:var(--line)}
.axis .grid.minor{stroke-dasharray:2 4}
.axis .frame{stroke:var(--muted)}
.axis text{fill:var(--muted);font-size:11px}
.axis .yt{text-anchor:end}.axis .xt,.axis .yl{text-anchor:middle}
.c0{--c:var(--p0)}.c1{--c:var(--p1)}.c2{--c:var(--p2)}.c3{--c:var(--p3)}.c4{--c:var(--p4)}.c5{--c:var(--p5)}
.c6{--c:var(--p6)}.c7{--c:var(--p7)}.c8{--c:var(--p8)}.c9{--c:var(--p9)}.c10{--c:var(--p10)}.c11{--c:var(--p11)}
.stream{--c:var(--stream)}
.series .line{fill:none;stroke:var(--c);stroke-width:1.6;stroke-linejoin:round}
.series.thick .line{stroke-width:3.2;stroke-opacity:.8}
.series .band{fill:var(--c);opacity:.06}
.series.thick .band{opacity:.13}
g.series:hover .band,figure.focus .series.hi .band{opacity:.3}
.series .pt{fill:var(--c);stroke:var(--bg);stroke-width:1}
.series .ms{stroke:var(--c);stroke-width:2.2;fill:none}
.series.off{display:none}
figure.focus .series{opacity:.12}
figure.focus .series.hi{opacity:1}
.ref line{stroke:var(--err);stroke-dasharray:7 4;stroke-width:1.2}
.ref text{fill:var(--err);font-size:11px;text-anchor:end}
.cols .col{fill:var(--note);fill-opacity:0;cursor:pointer}
.cols .col:hover{fill-opacity:.06}
.cols .col.sel{fill-opacity:.14}
.legend{display:flex;flex-wrap:wrap;gap:4px 8px;margin-top:4px}
.key{background:var(--bg);border:1px solid var(--line);border-radius:12px;padding:1px 9px;color:var(--fg);font:inherit;font-size:12px;cursor:pointer}
.key .sw{display:inline-block;width:16px;height:3px;background:var(--c);vertical-align:middle;margin-right:6px;border-radius:2px}
.key.thick .sw{height:5px}
.key[aria-pressed=false]{opacity:.45;text-decoration:line-through}
#tip{position:fixed;z-index:20;pointer-events:none;background:var(--fg);color:var(--bg);padding:6px 9px;border-radius:5px;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre;max-width:640px;overflow:hidden;box-shadow:0 2px 8px rgba(0,0,0,.25)}
ol.arch{list-style:none;display:flex;flex-wrap:wrap;align-items:flex-start;gap:8px;padding:0;margin:8px 0}
.blk{display:flex;flex-direction:column;gap:3px;width:172px;min-height:88px;height:100%;text-align:left;border:1px solid var(--line);border-left:5px solid var(--sev,var(--muted));background:var(--sevbg,var(--panel));border-radius:6px;padding:5px 6px;font:inherit;font-size:12px;color:var(--fg)}
button.blk{cursor:pointer}
.blk.compact{width:48px;min-height:42px;height:auto;padding:3px 4px;gap:0;align-items:center}
.blk.compact .bt{font-size:13px}
.blk.compact .bf{margin:0;font-size:11px;min-height:14px}
button.blk:hover{border-color:var(--sev)}
button.blk[aria-pressed=true]{outline:2px solid var(--fg);outline-offset:1px}
.blk.edge{background:var(--panel)}
.blk>.chip{align-self:flex-start}
dl.facts.probe{grid-template-columns:repeat(2,max-content minmax(0,1fr))}
dl.facts.probe dd{white-space:normal}
.bt{font-weight:600;display:flex;justify-content:space-between;gap:4px}
.np{font-weight:400;color:var(--muted)}
.bf{color:var(--muted);margin-top:auto}
.sev-error .bf,.sev-warning .bf,.sev-note .bf{color:var(--sev);font-weight:600}
.sub{display:flex;flex-wrap:wrap;gap:2px}
.chip{display:inline-block;padding:0 4px;border-radius:3px;font-size:11px;line-height:16px;background:var(--bg);border:1px solid var(--line);white-space:nowrap}
.chip.norm{color:var(--note)}
.chip.op{font-weight:600}
.chip.info{color:var(--muted)}
.chip.res{color:var(--ok)}
.chip.bad{color:var(--err);border-color:var(--err);font-weight:600}
section.rule{border:1px solid var(--line);border-left:5px solid var(--sev);border-radius:6px;padding:4px 14px 8px;margin:12px 0}
section.rule h3 .rn{font-weight:500}
section.rule h3 .count{color:var(--muted);font-weight:400;font-size:13px;margin-left:6px}
.sev{display:inline-block;text-transform:uppercase;font-size:10.5px;font-weight:700;letter-spacing:.04em;color:var(--sev);border:1px solid var(--sev);border-radius:3px;padding:0 4px;vertical-align:1px}
.finding .sev{--sev:inherit}
.summary{color:var(--muted);margin:2px 0 6px}
ol.findings{list-style:none;padding:0;margin:0}
li.finding{border-top:1px solid var(--line);padding:6px 0}
li.finding .sev{color:var(--sev);border-color:var(--sev)}
.msg{margin:2px 0;font-weight:500}
.msg .code{color:var(--muted);font-weight:400}
.loc{margin:2px 0;color:var(--muted);font-size:.9em}
table{border-collapse:collapse}
dl.evidence{display:flex;flex-wrap:wrap;gap:1px 16px;margin:3px 0;font-size:.86em}
dl.evidence div{display:flex;gap:5px}
dl.evidence dt{color:var(--muted);font-family:ui-monospace,Menlo,Consolas,monospace}
dl.evidence dd{margin:0;font-variant-numeric:tabular-nums}
details.more>summary{cursor:pointer;color:var(--note);padding:4px 0}
ul.remedies{margin:4px 0;padding-left:18px}
ul.remedies li::marker{content:"\2192  ";color:var(--ok)}
details.doc{margin-top:6px}
details.doc summary{cursor:pointer;color:var(--note)}
details.doc pre{background:var(--panel);padding:6px 8px;border-radius:4px;overflow:auto}
table.md td,table.md th{border:1px solid var(--line);padding:2px 8px;text-align:left}
.controls{display:flex;gap:10px;align-items:center;margin:6px 0;flex-wrap:wrap}
.controls input[type=search]{width:280px}
.controls input,.controls select{font:inherit;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:3px 6px}
.shown{color:var(--muted);margin-left:auto}
.tablewrap{max-height:72vh;overflow:auto;border:1px solid var(--line);border-radius:6px}
table.params{width:100%;font-size:.9em}
table.params th{position:sticky;top:0;background:var(--panel);text-align:left;border-bottom:1px solid var(--line);padding:0}
table.params th button{background:none;border:0;font:inherit;font-weight:600;color:inherit;cursor:pointer;padding:5px 8px;width:100%;text-align:inherit}
table.params th[aria-sort=ascending] button::after{content:" \25B2"}
table.params th[aria-sort=descending] button::after{content:" \25BC"}
table.params td{padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top}
table.params td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.params tbody tr:hover{background:var(--panel)}
table.params td.bad{color:var(--err);font-weight:600}
table.coverage td,table.coverage th{padding:2px 10px 2px 0;text-align:left}
footer{color:var(--muted);font-size:12px;margin:30px auto 20px;padding-top:8px;border-top:1px solid var(--line)}
@media (max-width:900px){dl.facts{grid-template-columns:max-content minmax(0,1fr)}.blk{width:140px}}
@media print{
:root{--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--panel:#f2f2f2;--stream:#333;
--err:#b00020;--warn:#8a5000;--note:#0b4f9c;--ok:#1b5e20;--errbg:#fff;--warnbg:#fff;--notebg:#fff;--okbg:#fff}
body{font-size:11px}
nav.toc,.controls,.legend,.filter-chip,.filtered,#tip,details.doc,.cols{display:none!important}
.tablewrap{max-height:none;overflow:visible;border:0}
table.params th{position:static}
section.rule,li.finding,figure.chart,.blk,tr{break-inside:avoid}
h2{break-after:avoid}
a{color:inherit;text-decoration:none}
}
)css";

static const char Script[] = R"js(
(function () {
  'use strict';
  var root = document.documentElement, errors = [];
  function fail(m) { errors.push(String(m)); root.setAttribute('data-errors', errors.join(' | ')); }
  window.addEventListener('error', function (e) { fail(e.message || 'script error'); });
  function all(sel, ctx) { return Array.prototype.slice.call((ctx || document).querySelectorAll(sel)); }
  function attr(el, name) { return el.getAttribute(name); }
  try {
    var data = JSON.parse(document.getElementById('gradlint-data').textContent);

    // Hover: the SVG <title> texts become a tooltip that follows the pointer.
    var tip = document.getElementById('tip');
    all('svg title').forEach(function (t) {
      t.parentNode.setAttribute('data-tip', t.textContent);
      t.parentNode.removeChild(t);
    });
    function moveTip(e) {
      var el = e.target && e.target.closest ? e.target.closest('[data-tip]') : null;
      if (!el) { tip.hidden = true; return; }
      tip.textContent = attr(el, 'data-tip');
      tip.hidden = false;
      var x = e.clientX + 14, y = e.clientY + 14, w = tip.offsetWidth, h = tip.offsetHeight;
      if (x + w > window.innerWidth - 8) x = Math.max(8, e.clientX - w - 14);
      if (y + h > window.innerHeight - 8) y = Math.max(8, e.clientY - h - 14);
      tip.style.left = x + 'px';
      tip.style.top = y + 'px';
    }
    document.addEventListener('mouseover', moveTip);
    document.addEventListener('mousemove', function (e) { if (!tip.hidden) moveTip(e); });

    // Legend keys hide and show a series in every chart, and focus it on hover.
    function seriesOf(key) {
      return all('g.series').filter(function (g) { return attr(g, 'data-series') === key; });
    }
    all('.legend .key').forEach(function (k) {
      var key = attr(k, 'data-series'), fig = k.closest('figure');
      k.addEventListener('click', function () {
        var on = attr(k, 'aria-pressed') !== 'true';
        k.setAttribute('aria-pressed', String(on));
        seriesOf(key).forEach(function (g) { g.classList.toggle('off', !on); });
      });
      k.addEventListener('mouseenter', function () {
        fig.classList.add('focus');
        seriesOf(key).forEach(function (g) { g.classList.add('hi'); });
      });
      k.addEventListener('mouseleave', function () {
        fig.classList.remove('focus');
        all('g.series.hi').forEach(function (g) { g.classList.remove('hi'); });
      });
    });

    // The parameter table: filter by text, block and band; sort by column.
    var table = document.getElementById('param-table'), tbody = table.tBodies[0];
    var rows = all('tr', tbody);
    var text = document.getElementById('param-filter');
    var blockSelect = document.getElementById('param-block');
    var outside = document.getElementById('param-outside');
    var count = document.getElementById('param-count');
    function applyTable() {
      var q = text.value.trim().toLowerCase(), b = blockSelect.value;
      var o = outside ? outside.checked : false, shown = 0;
      rows.forEach(function (r) {
        var ok = (!b || attr(r, 'data-block') === b) && (!o || r.classList.contains('outside')) &&
          (!q || (r.cells[0].textContent + ' ' + r.cells[3].textContent).toLowerCase().indexOf(q) >= 0);
        r.hidden = !ok;
        if (ok) shown++;
      });
      var n = rows.length + (rows.length === 1 ? ' row' : ' rows');
      count.textContent = shown === rows.length ? n : shown + ' of ' + n;
      table.setAttribute('data-shown', String(shown));
    }
    text.addEventListener('input', applyTable);
    if (outside) outside.addEventListener('change', applyTable);
    all('th[data-sort]', table).forEach(function (th) {
      th.querySelector('button').addEventListener('click', function () {
        var dir = attr(th, 'aria-sort') === 'ascending' ? 'descending' : 'ascending';
        all('th', table).forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
        th.setAttribute('aria-sort', dir);
        var numeric = attr(th, 'data-sort') === 'num', idx = th.cellIndex, s = dir === 'ascending' ? 1 : -1;
        var keyed = rows.map(function (r, i) {
          var c = r.cells[idx];
          return { r: r, i: i, v: numeric ? parseFloat(attr(c, 'data-v')) : c.textContent };
        });
        keyed.sort(function (a, b) {
          if (numeric) {
            var an = isNaN(a.v), bn = isNaN(b.v);
            if (an || bn) return an === bn ? a.i - b.i : (an ? 1 : -1);
            return a.v === b.v ? a.i - b.i : (a.v < b.v ? -s : s);
          }
          var c = a.v.localeCompare(b.v);
          return c ? c * s : a.i - b.i;
        });
        keyed.forEach(function (k) { tbody.appendChild(k.r); });
        rows = keyed.map(function (k) { return k.r; });
      });
    });

    // One block at a time: tiles, chart columns and the block menu select it.
    var chip = document.querySelector('.filter-chip'), note = document.querySelector('.filtered');
    var current = null;
    function select(b) {
      current = b;
      all('.arch button.blk').forEach(function (t) {
        t.setAttribute('aria-pressed', String(attr(t, 'data-block') === current));
      });
      all('.cols .col').forEach(function (c) { c.classList.toggle('sel', attr(c, 'data-block') === current); });
      all('li.finding').forEach(function (f) { f.hidden = current !== null && attr(f, 'data-block') !== current; });
      if (current !== null) all('details.more').forEach(function (d) { d.open = true; });
      all('section.rule').forEach(function (r) {
        r.hidden = current !== null && all('li.finding', r).every(function (f) { return f.hidden; });
      });
      var label = current === '-1' ? 'outside blocks' : current;
      chip.hidden = note.hidden = current === null;
      chip.querySelector('b').textContent = note.querySelector('.fb').textContent = label || '';
      blockSelect.value = current === null ? '' : current;
      root.setAttribute('data-block-filter', current === null ? '' : current);
      applyTable();
    }
    function toggle(b) { select(current === b ? null : b); }
    window.addEventListener('beforeprint', function () {
      all('details.more').forEach(function (d) { d.open = true; });
    });
    all('.arch button.blk').forEach(function (t) {
      t.addEventListener('click', function () { toggle(attr(t, 'data-block')); });
    });
    all('.cols .col').forEach(function (c) {
      c.addEventListener('click', function () { toggle(attr(c, 'data-block')); });
    });
    all('button.clear').forEach(function (b) { b.addEventListener('click', function () { select(null); }); });
    blockSelect.addEventListener('change', function () { select(blockSelect.value === '' ? null : blockSelect.value); });
    // report.html#block=7 opens the page filtered to block 7.
    function fromHash() {
      var m = /^#block=(-?[0-9]+)$/.exec(window.location.hash);
      if (m) select(m[1]);
    }
    window.addEventListener('hashchange', fromHash);

    // Self-check: what rendered against what gradlint wrote.
    var flow = document.getElementById('flow-chart');
    var rendered = {
      params: rows.length,
      findings: all('li.finding').length,
      rules: all('section.rule').length,
      blocks: all('.arch button.blk').length,
      points: flow ? all('circle.pt', flow).length : 0,
      series: flow ? all('g.series', flow).length : 0,
      measured: flow ? all('path.ms', flow).length : 0,
      columns: flow ? all('.cols .col', flow).length : 0
    };
    if (rendered.params !== data.parameters) fail('table has ' + rendered.params + ' rows, expected ' + data.parameters);
    if (rendered.findings !== data.findings) fail(rendered.findings + ' findings rendered, expected ' + data.findings);
    if (rendered.blocks !== data.blocks) fail(rendered.blocks + ' blocks rendered, expected ' + data.blocks);
    Object.keys(rendered).forEach(function (k) { root.setAttribute('data-rendered-' + k, String(rendered[k])); });
    applyTable();
    fromHash();
    root.setAttribute('data-ready', '1');
  } catch (e) {
    fail(e && e.message ? e.message : e);
  }
})();
)js";

llvm::StringRef html::pageStyle() { return llvm::StringRef(Style).ltrim("\n"); }
llvm::StringRef html::pageScript() { return llvm::StringRef(Script).ltrim("\n"); }
