//===- HtmlParams.cpp - the parameter table and the analysis coverage -----===//
//
// The table is plain HTML rows (so it prints and reads without script); the
// page's script sorts by the data-v keys and filters by text, block and band.
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"
#include "gradlint/Report/Check.h"
#include <map>

using namespace gradlint;
using namespace gradlint::html;

static std::string shapeText(const Dims &Shape) {
  if (Shape.empty())
    return "scalar";
  std::string S;
  for (size_t I = 0; I < Shape.size(); ++I)
    S += (I ? "\xC3\x97" : "") + std::to_string(Shape[I]);
  return S;
}

static llvm::StringRef fp32Text(Float32Outcome O) {
  switch (O) {
  case Float32Outcome::Normal: return "";
  case Float32Outcome::Underflow: return "underflows to 0";
  case Float32Outcome::Noise: return "rounding noise";
  }
  return "";
}

static void numberCell(llvm::raw_ostream &OS, double V, llvm::StringRef Class = "") {
  OS << "<td class=\"n" << (Class.empty() ? "" : " ") << Class << "\" data-v=\""
     << key(V) << "\">" << num(V) << "</td>";
}

static void writeControls(llvm::raw_ostream &OS, const ReportData &D, bool Probe) {
  OS << "<div class=\"controls\"><input type=\"search\" id=\"param-filter\" "
        "placeholder=\"filter by name or role\" aria-label=\"filter parameters by "
        "name or role\"><select id=\"param-block\" aria-label=\"block\">"
        "<option value=\"\">all blocks</option><option value=\"-1\">outside blocks</option>";
  for (unsigned B = 0; B < D.blockCount(); ++B)
    OS << "<option value=\"" << B << "\">block " << B << "</option>";
  OS << "</select>";
  if (Probe)
    OS << "<label><input type=\"checkbox\" id=\"param-outside\"> measured outside "
          "[lo, hi] only</label>";
  OS << "<span class=\"shown\" id=\"param-count\"></span></div>\n";
}

void html::writeParameters(llvm::raw_ostream &OS, const ReportData &D) {
  bool Probe = D.In.Probe != nullptr;
  bool Fp32 = false;
  unsigned Measured = 0, Inside = 0;
  for (const ParamRow &Row : D.Rows) {
    Fp32 |= Row.P->Fp32 != Float32Outcome::Normal;
    if (Row.Measured) {
      ++Measured;
      Inside += Row.inBand();
    }
  }
  OS << "<section id=\"parameters\" data-params=\"" << D.Rows.size() << "\">\n"
     << "<h2>Parameters</h2>\n<p class=\"lead\">" << plural(D.Rows.size(), "parameter")
     << " (NAME[q] is a block of a fused weight) with the predicted norm of "
        "their gradient: est is what a measurement should show, [lo, hi] the "
        "interval it should fall in.";
  if (Probe)
    OS << " Measured by the probe: " << Measured << ", of which " << Inside
       << " inside [lo, hi]; ratio is measured / est.";
  OS << " Click a column heading to sort.</p>\n";
  writeControls(OS, D, Probe);
  OS << "<div class=\"tablewrap\"><table class=\"params\" id=\"param-table\">\n<thead><tr>";
  auto Head = [&](llvm::StringRef Label, llvm::StringRef Kind) {
    OS << "<th scope=\"col\" data-sort=\"" << Kind << "\" aria-sort=\"none\">"
       << "<button type=\"button\">" << Label << "</button></th>";
  };
  Head("name", "text");
  Head("shape", "text");
  Head("block", "num");
  Head("role", "text");
  Head("est", "num");
  Head("lo", "num");
  Head("hi", "num");
  if (Probe) {
    Head("measured", "num");
    Head("ratio", "num");
  }
  if (Fp32)
    Head("fp32", "text");
  OS << "</tr></thead>\n<tbody>\n";
  for (const ParamRow &Row : D.Rows) {
    const Bound &B = Row.P->GradNorm;
    bool Outside = !Row.inBand();
    OS << "<tr data-block=\"" << Row.Block << "\"" << (Outside ? " class=\"outside\"" : "")
       << "><td class=\"name\"><code>" << esc(Row.P->Name) << "</code></td><td>"
       << shapeText(Row.P->Shape) << "</td><td class=\"n\" data-v=\"" << Row.Block
       << "\">" << (Row.Block < 0 ? std::string("\xE2\x80\x94") : std::to_string(Row.Block))
       << "</td><td";
    if (!Row.Phrase.empty())
      OS << " title=\"" << esc(Row.Phrase) << "\"";
    OS << ">" << esc(Row.Role.empty() ? "\xE2\x80\x94" : Row.Role) << "</td>";
    numberCell(OS, B.Est);
    numberCell(OS, B.Lo);
    numberCell(OS, B.Hi);
    if (Probe) {
      double M = Row.Measured ? *Row.Measured : NAN;
      numberCell(OS, M, Outside ? "bad" : "");
      numberCell(OS, Row.Measured && B.Est > 0 ? M / B.Est : NAN, Outside ? "bad" : "");
    }
    if (Fp32)
      OS << "<td>" << fp32Text(Row.P->Fp32) << "</td>";
    OS << "</tr>\n";
  }
  OS << "</tbody></table></div>\n</section>\n";
}

void html::writeCoverage(llvm::raw_ostream &OS, const ReportData &D) {
  const CheckReport &R = D.R;
  const Graph &G = R.M.G;
  OS << "<section id=\"coverage\" data-unknown-ops=\"" << R.A.UnknownOps.size() << "\">\n"
     << "<h2>Coverage</h2>\n<p class=\"lead\">The analysis has a transfer rule for "
     << num(100 * R.A.Coverage) << "% of the float-carrying nodes.";
  if (R.A.UnknownOps.empty())
    OS << " Every op is supported.";
  else
    OS << " The ops below are analysed as pass-through: gradients cross them "
          "unchanged and their upper bound is unbounded (GL113).";
  if (R.A.CalibrationPasses)
    OS << " Calibrated (<code>--calibrate</code>): the forward statistics of "
       << R.A.CalibratedValues << " values and " << R.A.CalibratedSoftmax
       << " softmax ops were measured by " << R.A.CalibrationPasses
       << " forward passes of the probe.";
  OS << "</p>\n";
  if (!R.A.UnknownOps.empty()) {
    OS << "<table class=\"coverage\"><thead><tr><th scope=\"col\">op</th><th "
          "scope=\"col\">nodes</th><th scope=\"col\">for example</th></tr></thead><tbody>\n";
    for (const std::string &Op : R.A.UnknownOps) {
      std::vector<llvm::StringRef> Names;
      for (const Node &N : G.Nodes)
        if (N.OpType == Op || (N.Domain + ":" + N.OpType) == Op)
          Names.push_back(N.Name);
      OS << "<tr><td><code>" << esc(Op) << "</code></td><td class=\"n\">" << Names.size()
         << "</td><td>";
      for (size_t I = 0; I < Names.size() && I < 3; ++I)
        OS << (I ? ", " : "") << "<code>" << esc(Names[I]) << "</code>";
      OS << "</td></tr>\n";
    }
    OS << "</tbody></table>\n";
  }
  if (!R.S.Unassigned.empty()) {
    std::map<std::string, unsigned> Ops;
    for (NodeId N : R.S.Unassigned)
      ++Ops[G.Nodes[N].OpType];
    OS << "<p>" << R.S.Unassigned.size()
       << " nodes are in no recognized block, embedding or head:";
    for (auto &[Op, Count] : Ops)
      OS << " <code>" << esc(Op) << "</code>\xC3\x97" << Count;
    OS << ".</p>\n";
  }
  if (!R.Shapes.Unknown.empty()) {
    OS << "<p>" << R.Shapes.Unknown.size() << " values have no inferred shape.</p>\n<ul>";
    for (size_t I = 0; I < R.Shapes.Reasons.size() && I < 10; ++I) {
      auto &[N, Why] = R.Shapes.Reasons[I];
      OS << "<li><code>" << esc(N < G.Nodes.size() ? G.Nodes[N].Name : "?")
         << "</code>: " << esc(Why) << "</li>";
    }
    OS << "</ul>\n";
  }
  OS << "</section>\n";
}
