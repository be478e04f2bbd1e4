//===- HtmlFindings.cpp - findings grouped by rule ------------------------===//
//
// One group per rule that fired, in code order (the engine's order within
// each): message, location, evidence, remedies, and the rule's page as
// `gradlint explain` prints it.
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"
#include "gradlint/Report/Check.h"
#include "gradlint/Rules/Registry.h"
#include <algorithm>
#include <map>

using namespace gradlint;
using namespace gradlint::html;

static std::string evidenceText(const llvm::json::Value &V) {
  if (auto I = V.getAsInteger())
    return std::to_string(*I);
  if (auto D = V.getAsNumber())
    return num(*D);
  if (auto S = V.getAsString())
    return S->str();
  if (auto B = V.getAsBoolean())
    return *B ? "true" : "false";
  if (V.getAsNull())
    return "\xE2\x80\x94";
  if (const llvm::json::Array *A = V.getAsArray()) {
    std::string Out = "[";
    for (size_t I = 0; I < A->size(); ++I) {
      if (I == 16) {
        Out += ", \xE2\x80\xA6 " + std::to_string(A->size()) + " in all";
        break;
      }
      Out += (I ? ", " : "") + evidenceText((*A)[I]);
    }
    return Out + "]";
  }
  std::string Out;
  llvm::raw_string_ostream(Out) << V;
  return Out;
}

static void writeEvidence(llvm::raw_ostream &OS, const llvm::json::Object &E) {
  if (E.empty())
    return;
  // json::Object iterates in hash order: sort for stable bytes.
  std::vector<std::pair<std::string, const llvm::json::Value *>> Items;
  for (const auto &KV : E)
    Items.push_back({KV.first.str(), &KV.second});
  llvm::sort(Items, [](const auto &A, const auto &B) { return A.first < B.first; });
  OS << "<dl class=\"evidence\" aria-label=\"evidence\">";
  for (auto &[Key, Value] : Items)
    OS << "<div><dt>" << esc(Key) << "</dt><dd>" << esc(evidenceText(*Value)) << "</dd></div>";
  OS << "</dl>";
}

static void writeLocation(llvm::raw_ostream &OS, const Finding &F) {
  OS << "<p class=\"loc\">";
  bool Any = false;
  auto Sep = [&] {
    if (Any)
      OS << " \xC2\xB7 ";
    Any = true;
  };
  if (F.Block >= 0) {
    Sep();
    OS << "block " << F.Block;
  }
  if (!F.Node.empty()) {
    Sep();
    OS << "node <code>" << esc(F.Node) << "</code>";
  }
  if (!F.Parameter.empty()) {
    Sep();
    OS << "parameter <code>" << esc(F.Parameter) << "</code>";
  }
  if (!Any)
    OS << "model-wide";
  OS << "</p>";
}

static void writeFinding(llvm::raw_ostream &OS, const Finding &F) {
  OS << "<li class=\"finding sev-" << severityName(F.Level) << "\" data-block=\"" << F.Block
     << "\"><p class=\"msg\"><span class=\"sev\">" << severityName(F.Level) << "</span> "
     << esc(F.Message) << " <span class=\"code\">[" << esc(F.Code) << "]</span></p>";
  writeLocation(OS, F);
  writeEvidence(OS, F.Evidence);
  if (!F.Remedies.empty()) {
    OS << "<ul class=\"remedies\">";
    for (const std::string &Remedy : F.Remedies)
      OS << "<li>" << esc(Remedy) << "</li>";
    OS << "</ul>";
  }
  OS << "</li>\n";
}

void html::writeFindings(llvm::raw_ostream &OS, const ReportData &D) {
  const CheckReport &R = D.R;
  OS << "<section id=\"findings\" data-findings=\"" << R.Findings.size() << "\">\n"
     << "<h2>Findings</h2>\n<p class=\"lead\">";
  if (R.Findings.empty())
    OS << "No findings from the " << R.Enabled.size() << " rules that ran.";
  else
    OS << plural(D.Counts[2], "error") << ", " << plural(D.Counts[1], "warning") << ", "
       << plural(D.Counts[0], "note") << " from " << R.Enabled.size()
       << " rules, grouped by rule.";
  if (R.Suppressed)
    OS << " " << R.Suppressed << " suppressed by <code>" << esc(R.ConfigPath) << "</code>.";
  if (R.Baselined)
    OS << " " << R.Baselined << " in the baseline.";
  OS << "</p>\n<p class=\"filtered\" hidden>Showing block <span class=\"fb\"></span> "
        "only. <button type=\"button\" class=\"clear\">Show all</button></p>\n";

  // Rules in code order; the findings keep the engine's order within each.
  std::map<std::string, std::vector<const Finding *>> ByRule;
  for (const Finding &F : R.Findings)
    ByRule[F.Code.str()].push_back(&F);
  for (auto &[Code, Findings] : ByRule) {
    const Rule *Rl = findRule(Code);
    Severity Worst = Severity::Note;
    for (const Finding *F : Findings)
      Worst = std::max(Worst, F->Level);
    OS << "<section class=\"rule sev-" << severityName(Worst) << "\" id=\"rule-" << esc(Code)
       << "\" data-rule=\"" << esc(Code) << "\" data-count=\"" << Findings.size()
       << "\">\n<h3><span class=\"sev\">" << severityName(Worst) << "</span> " << esc(Code);
    if (Rl)
      OS << " <span class=\"rn\">" << esc(Rl->Name) << "</span>";
    OS << " <span class=\"count\">" << plural(Findings.size(), "finding") << "</span></h3>\n";
    if (Rl)
    {
      OS << "<p class=\"summary\">";
      writeInlineMarkdown(OS, ruleDescription(*Rl));
      OS << "</p>\n";
    }
    // The first few; the rest folded (the block filter and printing unfold them).
    constexpr size_t Shown = 4;
    OS << "<ol class=\"findings\">\n";
    for (size_t I = 0; I < Findings.size() && I < Shown; ++I)
      writeFinding(OS, *Findings[I]);
    OS << "</ol>\n";
    if (Findings.size() > Shown) {
      OS << "<details class=\"more\"><summary>" << Findings.size() - Shown << " more "
         << esc(Code) << " findings</summary><ol class=\"findings\">\n";
      for (size_t I = Shown; I < Findings.size(); ++I)
        writeFinding(OS, *Findings[I]);
      OS << "</ol></details>\n";
    }
    if (Rl && !ruleDoc(*Rl).empty()) {
      OS << "<details class=\"doc\"><summary>About " << esc(Code)
         << " (<code>gradlint explain " << esc(Code) << "</code>)</summary>\n";
      writeMarkdown(OS, ruleDoc(*Rl));
      OS << "</details>\n";
    }
    OS << "</section>\n";
  }
  OS << "</section>\n";
}
