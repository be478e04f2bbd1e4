//===- GL107-missing-normalization.cpp ------------------------------------===//
//
// Without normalization each residual block adds its output's variance to
// the stream, and nothing brings the scale back: activations and gradients
// drift with depth and with the weights' scale. Reports stacks whose blocks
// have no LayerNorm/RMSNorm at all.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"min-blocks", 2, "stacks with fewer blocks are not reported"},
};

static double streamMeanSquare(const RuleContext &C, ValueId V) {
  return V != NoId && V < C.A.Forward.size() ? meanSquare(C.A.Forward[V]) : 0;
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  if (C.S.Blocks.size() < C.Options.get("min-blocks"))
    return Out;
  std::vector<unsigned> Missing;
  for (const BlockInfo &B : C.S.Blocks)
    if (B.Norms.empty() && B.Norm == NormPlacement::None)
      Missing.push_back(B.Index);
  if (Missing.empty())
    return Out;
  const BlockInfo &First = C.S.Blocks[Missing.front()];
  const BlockInfo &Last = C.S.Blocks[Missing.back()];
  Finding F = makeFinding(
      Severity::Warning,
      formatBlocks(Missing) + " of " + std::to_string(C.S.Blocks.size()) +
          (Missing.size() == 1 ? " has" : " have") + " no normalization");
  F.Block = First.Index;
  if (First.Attention)
    F.Node = nodeName(C.M, First.Attention->Softmax);
  F.Evidence["blocks"] = int64_t(C.S.Blocks.size());
  llvm::json::Array List;
  for (unsigned I : Missing)
    List.push_back(I);
  F.Evidence["blocks_missing"] = std::move(List);
  double In = streamMeanSquare(C, blockInput(First));
  double OutMs = streamMeanSquare(C, blockOutput(Last));
  std::string Growth;
  if (In > 0 && OutMs > 0) {
    double Rms = std::sqrt(OutMs / In);
    addEvidence(F, "stream_rms_growth", Rms);
    Growth = " (the residual stream's RMS grows " + formatNumber(Rms) +
             "x from block " + std::to_string(First.Index) + " to block " +
             std::to_string(Last.Index) + ")";
  }
  F.Remedies.push_back(
      "normalize each sublayer's input, x = x + f(LayerNorm(x)) "
      "(pre-norm), and the output of the last block" +
      Growth);
  F.Remedies.push_back(
      "normalization-free stacks need a matching initialization "
      "instead: residual branches scaled to start at 0 (ReZero, "
      "Fixup, T-Fixup)");
  Out.push_back(std::move(F));
  return Out;
}

const Rule rules::GL107 = {
    "GL107",           "missing-normalization",
    Severity::Warning, "the blocks of a stack have no normalization",
    Options,           check};
