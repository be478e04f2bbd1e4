//===- GL113-analysis-coverage.cpp ----------------------------------------===//
//
// Ops without a transfer rule pass gradients through unchanged in the
// estimate and with an unbounded interval (DESIGN §7): predictions
// downstream of them, toward the inputs, are less certain. One finding per
// op type, at its first node.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <map>

using namespace gradlint;

static const RuleOption Options[] = {
    {"min-coverage", 0.9,
     "warn (instead of note) when the analysed share of "
     "float-carrying nodes is below this"},
};

static std::string opKey(const Node &N) {
  return N.Domain.empty() || N.Domain == "ai.onnx" ? N.OpType
                                                   : N.Domain + ":" + N.OpType;
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  if (C.A.UnknownOps.empty())
    return Out;
  std::map<std::string, std::pair<NodeId, unsigned>> Seen; // first node, count
  for (NodeId Id : C.M.G.Order) {
    const Node &N = C.M.G.Nodes[Id];
    std::string Key = opKey(N);
    if (!llvm::is_contained(C.A.UnknownOps, Key) &&
        !llvm::is_contained(C.A.UnknownOps, N.OpType))
      continue;
    auto [It, New] = Seen.insert({Key, {Id, 0}});
    ++It->second.second;
  }
  bool Low = C.A.Coverage < C.Options.get("min-coverage");
  for (const std::string &Op : C.A.UnknownOps) {
    auto It = Seen.find(Op);
    unsigned Count = It == Seen.end() ? 0 : It->second.second;
    Finding F = makeFinding(Low ? Severity::Warning : Severity::Note,
                            "gradlint has no gradient rule for " + Op + " (" +
                                std::to_string(Count) +
                                (Count == 1 ? " node" : " nodes") + "); " +
                                formatPercent(C.A.Coverage) +
                                " of the float-carrying nodes are analysed");
    if (It != Seen.end()) {
      F.Node = nodeName(C.M, It->second.first);
      F.Block = C.S.blockOf(It->second.first);
    }
    F.Evidence["op"] = Op;
    F.Evidence["nodes"] = Count;
    addEvidence(F, "coverage", C.A.Coverage);
    F.Remedies.push_back(
        "gradients pass through " + Op +
        " unchanged in the estimate and with no upper bound, so "
        "predictions for parameters before it are less certain");
    F.Remedies.push_back(
        "where they matter, compare with a measurement (gradlint probe, "
        "or autograd in the training framework), or "
        "export the model so that it uses standard ONNX ops");
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL113 = {
    "GL113",
    "analysis-coverage",
    Severity::Note,
    "ops gradlint cannot analyse, and the share of the graph they cover",
    Options,
    check};
