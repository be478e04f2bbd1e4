//===- CheckSarif.cpp - SARIF 2.1.0 for code scanning ---------------------===//
//
// What GitHub code scanning reads: tool.driver.rules (id, name, short and
// full description, help text and markdown, default level), results with a
// ruleId/ruleIndex, level, message, a physical location in the model file
// (region line 1: a binary file has no better one) and logical locations
// naming the block, node and parameter, and partialFingerprints that stay
// the same while the numbers change.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Report/Check.h"
#include "gradlint/Rules/Registry.h"

using namespace gradlint;

static llvm::StringRef sarifLevel(Severity S) {
  switch (S) {
  case Severity::Error: return "error";
  case Severity::Warning: return "warning";
  case Severity::Note: return "note";
  }
  return "warning";
}

static llvm::json::Object ruleJson(const Rule &R) {
  std::string Doc = ruleDoc(R).str();
  if (Doc.empty())
    Doc = R.Summary.str();
  return llvm::json::Object{
      {"id", R.Code},
      {"name", R.Name},
      {"shortDescription", llvm::json::Object{{"text", R.Summary}}},
      {"fullDescription", llvm::json::Object{{"text", ruleDescription(R)}}},
      {"help", llvm::json::Object{{"text", Doc}, {"markdown", Doc}}},
      {"defaultConfiguration",
       llvm::json::Object{{"level", sarifLevel(R.DefaultSeverity)}}},
      {"properties",
       llvm::json::Object{{"tags", llvm::json::Array{"gradients", "onnx"}},
                          {"precision", "medium"}}},
  };
}

static llvm::json::Object resultJson(const CheckReport &R, const Finding &F,
                                     int64_t RuleIndex) {
  std::string Text = F.Message;
  for (const std::string &Remedy : F.Remedies)
    Text += "\n- " + Remedy;
  llvm::json::Array Logical;
  std::string Block = F.Block >= 0 ? "block " + std::to_string(F.Block) : "";
  if (!Block.empty())
    Logical.push_back(llvm::json::Object{{"name", Block}, {"kind", "module"}});
  if (!F.Node.empty())
    Logical.push_back(llvm::json::Object{
        {"name", F.Node},
        {"fullyQualifiedName", Block.empty() ? F.Node : Block + "/" + F.Node},
        {"kind", "function"}});
  if (!F.Parameter.empty())
    Logical.push_back(llvm::json::Object{
        {"name", F.Parameter},
        {"fullyQualifiedName",
         Block.empty() ? F.Parameter : Block + "/" + F.Parameter},
        {"kind", "variable"}});
  llvm::json::Object Location{
      {"physicalLocation",
       llvm::json::Object{
           {"artifactLocation", llvm::json::Object{{"uri", R.ArtifactUri}}},
           {"region", llvm::json::Object{{"startLine", 1}}}}}};
  if (!Logical.empty())
    Location["logicalLocations"] = std::move(Logical);
  std::string Fingerprint = F.fingerprint();
  llvm::json::Object Props{{"evidence", llvm::json::Object(F.Evidence)}};
  if (F.Block >= 0)
    Props["block"] = F.Block;
  return llvm::json::Object{
      {"ruleId", F.Code},
      {"ruleIndex", RuleIndex},
      {"level", sarifLevel(F.Level)},
      {"message", llvm::json::Object{{"text", Text}}},
      {"locations", llvm::json::Array{std::move(Location)}},
      // Code scanning computes primaryLocationLineHash from the file's text
      // when it is missing; a binary model would give a new one per edit.
      {"partialFingerprints",
       llvm::json::Object{{"gradlintFingerprint/v1", Fingerprint},
                          {"primaryLocationLineHash", Fingerprint + ":1"}}},
      {"properties", std::move(Props)},
  };
}

llvm::json::Object gradlint::checkSarif(const CheckReport &R) {
  // Every rule that ran, plus any rule a finding names (always among them).
  llvm::json::Array Rules, Results;
  std::vector<const Rule *> Listed = R.Enabled;
  for (const Rule *Ru : Listed)
    Rules.push_back(ruleJson(*Ru));
  for (const Finding &F : R.Findings) {
    int64_t Index = -1;
    for (size_t I = 0; I < Listed.size(); ++I)
      if (Listed[I]->Code == F.Code)
        Index = int64_t(I);
    if (Index < 0)
      if (const Rule *Ru = findRule(F.Code)) {
        Listed.push_back(Ru);
        Rules.push_back(ruleJson(*Ru));
        Index = int64_t(Listed.size() - 1);
      }
    Results.push_back(resultJson(R, F, Index));
  }
  llvm::json::Object Driver{
      {"name", "gradlint"},
      {"version", GRADLINT_VERSION},
      {"semanticVersion", GRADLINT_VERSION},
      {"rules", std::move(Rules)},
  };
  llvm::json::Object Run{
      {"tool", llvm::json::Object{{"driver", std::move(Driver)}}},
      {"artifacts",
       llvm::json::Array{llvm::json::Object{
           {"location", llvm::json::Object{{"uri", R.ArtifactUri}}}}}},
      {"results", std::move(Results)},
      {"columnKind", "utf16CodeUnits"},
  };
  return llvm::json::Object{
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", llvm::json::Array{std::move(Run)}},
  };
}
