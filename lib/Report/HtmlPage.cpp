//===- HtmlPage.cpp - the HTML report: header, sections, data and script --===//
//
// The page loads nothing: a Content-Security-Policy allows inline styles and
// exactly one script, named by its SHA-256, so even a string that escaped
// escaping could not run. Sections follow in reading order: verdict, chart,
// architecture, findings, probe, parameters, coverage.
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"
#include "gradlint/Report/Check.h"
#include "gradlint/Report/Inspect.h"
#include "llvm/Support/Base64.h"
#include "llvm/Support/SHA256.h"

using namespace gradlint;
using namespace gradlint::html;

#ifndef GRADLINT_VERSION
#define GRADLINT_VERSION "unknown"
#endif

static std::string version(const HtmlReportInput &In) {
  return In.Version.empty() ? GRADLINT_VERSION : In.Version;
}

static std::string scriptHash(llvm::StringRef Script) {
  auto Hash = llvm::SHA256::hash(llvm::arrayRefFromStringRef(Script));
  return "sha256-" + llvm::encodeBase64(Hash);
}

static std::string elements(uint64_t N) {
  if (N >= 1000000)
    return num(N / 1e6) + "M";
  if (N >= 10000)
    return num(N / 1e3) + "k";
  return std::to_string(N);
}

static void writeVerdict(llvm::raw_ostream &OS, const ReportData &D) {
  const CheckReport &R = D.R;
  llvm::StringRef Worst = D.Counts[2] ? "error" : D.Counts[1] ? "warning" : D.Counts[0] ? "note" : "ok";
  OS << "<div class=\"verdict sev-" << Worst << "\" data-errors=\"" << D.Counts[2]
     << "\" data-warnings=\"" << D.Counts[1] << "\" data-notes=\"" << D.Counts[0] << "\">";
  if (R.Findings.empty()) {
    OS << "<strong>No findings.</strong> The predicted gradients show no vanishing, "
          "exploding or saturating part.";
  } else {
    std::string Counts;
    for (unsigned S = 3; S-- > 0;)
      if (D.Counts[S])
        Counts += (Counts.empty() ? "" : ", ") +
                  plural(D.Counts[S], severityName(static_cast<Severity>(S)));
    OS << "<strong>" << Counts << ".</strong>";
    // The first finding of the worst severity, in the engine's order.
    for (Severity S : {Severity::Error, Severity::Warning, Severity::Note}) {
      auto It = llvm::find_if(R.Findings, [&](const Finding &F) { return F.Level == S; });
      if (It != R.Findings.end()) {
        OS << " <a href=\"#rule-" << esc(It->Code) << "\">" << esc(It->Message) << " ["
           << esc(It->Code) << "]</a>";
        break;
      }
    }
  }
  OS << "</div>\n";
}

void html::writeHeader(llvm::raw_ostream &OS, const ReportData &D) {
  const CheckReport &R = D.R;
  const ModelInfo &Info = R.M.Info;
  ModelSummary Sum = summarize(R.M);
  OS << "<header class=\"top\">\n<h1><span class=\"brand\">gradlint</span> <code>"
     << esc(R.DisplayPath) << "</code></h1>\n";
  writeVerdict(OS, D);
  OS << "<dl class=\"facts\">";
  auto Fact = [&](llvm::StringRef Name, const std::string &Value) {
    OS << "<dt>" << Name << "</dt><dd>" << esc(Value) << "</dd>";
  };
  std::string Producer = Info.Producer.empty() ? "unknown" : Info.Producer;
  if (!Info.ProducerVersion.empty())
    Producer += " " + Info.ProducerVersion;
  Fact("producer", Producer);
  Fact("opset", std::to_string(Info.onnxOpset()));
  Fact("nodes", std::to_string(R.M.G.Nodes.size()));
  Fact("parameters", plural(R.A.Parameters.size(), "tensor") + ", " +
                         elements(Sum.Parameters) + " elements");
  std::string Blocks = std::to_string(R.S.Blocks.size());
  if (!R.S.Blocks.empty()) {
    NormPlacement P = R.S.Blocks.front().Norm;
    bool Same = llvm::all_of(R.S.Blocks, [&](const BlockInfo &B) { return B.Norm == P; });
    Blocks += Same ? (P == NormPlacement::None ? " (no norm)"
                                               : " (" + normPlacementName(P).str() + "-norm)")
                   : " (mixed norms)";
  }
  Fact("blocks", Blocks);
  std::string Dims;
  for (auto &[Name, Value] : R.Shapes.Dims) {
    Dims += (Dims.empty() ? "" : ", ") + Name + "=" + std::to_string(Value);
    if (llvm::is_contained(R.Shapes.Defaulted, Name))
      Dims += " (default)";
  }
  Fact("dims", Dims.empty() ? "static" : Dims);
  std::string Loss = lossName(R.A.Setup.Loss).str() + " over " +
                     std::to_string(R.A.Setup.Rows) + " rows";
  if (R.A.Setup.Loss == LossKind::CrossEntropy)
    Loss += ", vocabulary " + std::to_string(R.A.Setup.Vocab);
  Fact("loss", Loss);
  Fact("precision", precisionName(R.Precision).str());
  Fact("gradlint", version(D.In));
  if (!D.In.Generated.empty())
    Fact("generated", D.In.Generated);
  OS << "</dl>\n";
  if (!D.In.CommandLine.empty())
    OS << "<pre class=\"cmd\"><code>$ " << esc(D.In.CommandLine) << "</code></pre>\n";
  if (!Info.DocString.empty()) {
    llvm::StringRef Doc = Info.DocString;
    OS << "<details class=\"docstring\"><summary>model doc string</summary><pre>"
       << esc(Doc.take_front(4000)) << (Doc.size() > 4000 ? "\n\xE2\x80\xA6" : "")
       << "</pre></details>\n";
  }
  OS << "</header>\n";
}

static void writeNav(llvm::raw_ostream &OS, const ReportData &D) {
  OS << "<nav class=\"toc\"><a href=\"#flow\">Gradient flow</a><a href=\"#architecture\">"
        "Architecture</a><a href=\"#findings\">Findings ("
     << D.R.Findings.size() << ")</a>";
  if (D.In.Probe || !D.In.ProbeError.empty())
    OS << "<a href=\"#probe\">Probe</a>";
  OS << "<a href=\"#parameters\">Parameters (" << D.Rows.size()
     << ")</a><a href=\"#coverage\">Coverage</a>"
        "<span class=\"filter-chip\" hidden>block <b></b> <button type=\"button\" "
        "class=\"clear\" aria-label=\"show all blocks\">\xC3\x97</button></span></nav>\n";
}

/// The facts the script checks the rendered page against.
static llvm::json::Object pageData(const ReportData &D) {
  const CheckReport &R = D.R;
  llvm::json::Array Worst;
  for (const auto &W : D.BlockWorst)
    Worst.push_back(W ? llvm::json::Value(severityName(*W)) : llvm::json::Value(nullptr));
  return llvm::json::Object{
      {"schema", "gradlint.html/1"},
      {"version", utf8(version(D.In))},
      {"model", llvm::json::Object{{"path", utf8(R.DisplayPath)},
                                   {"producer", utf8(R.M.Info.Producer)}}},
      {"findings", int64_t(R.Findings.size())},
      {"severity", llvm::json::Object{{"error", D.Counts[2]},
                                      {"warning", D.Counts[1]},
                                      {"note", D.Counts[0]}}},
      {"parameters", int64_t(D.Rows.size())},
      {"blocks", int64_t(R.S.Blocks.size())},
      {"block_worst", std::move(Worst)},
      {"probe", D.In.Probe != nullptr},
  };
}

llvm::Error gradlint::writeHtmlReport(llvm::raw_ostream &OS, const HtmlReportInput &In) {
  ReportData D(In);
  llvm::StringRef Script = pageScript();
  OS << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src '"
     << scriptHash(Script)
     << "'; img-src 'none'; base-uri 'none'; form-action 'none'\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"color-scheme\" content=\"light dark\">\n"
        "<meta name=\"generator\" content=\"gradlint "
     << esc(version(In)) << "\">\n<title>gradlint: " << esc(In.Check.DisplayPath)
     << "</title>\n<style>" << pageStyle() << "</style>\n</head>\n<body>\n";
  writeHeader(OS, D);
  writeNav(OS, D);
  OS << "<main>\n";
  writeFlow(OS, D);
  writeArchitecture(OS, D);
  writeFindings(OS, D);
  writeTraining(OS, D);
  writeParameters(OS, D);
  writeCoverage(OS, D);
  OS << "</main>\n<footer>Written by gradlint " << esc(version(In))
     << ". Gradients are for gradlint's reference loss on random inputs; "
        "docs/report.md explains this page.</footer>\n"
     << "<div id=\"tip\" role=\"tooltip\" hidden></div>\n"
     << "<script type=\"application/json\" id=\"gradlint-data\">"
     << scriptJson(llvm::json::Value(pageData(D))) << "</script>\n<script>" << Script
     << "</script>\n</body>\n</html>\n";
  return llvm::Error::success();
}
