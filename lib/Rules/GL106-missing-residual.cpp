//===- GL106-missing-residual.cpp -----------------------------------------===//
//
// Without a skip connection the gradient reaching block i is the product of
// the Jacobians of every block above it, so it shrinks or grows
// geometrically with depth; with one, each block adds the identity to that
// product. Expects one residual per sublayer (attention, feed-forward).
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"min-blocks", 4, "stacks with fewer blocks are not reported"},
};

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  if (C.S.Blocks.size() < C.Options.get("min-blocks"))
    return Out;
  std::vector<unsigned> Missing;
  unsigned Sublayers = 0, Residuals = 0;
  for (const BlockInfo &B : C.S.Blocks) {
    unsigned Want = bool(B.Attention) + bool(B.Ffn);
    Sublayers += Want;
    Residuals += std::min<unsigned>(B.Residuals.size(), Want);
    if (B.Residuals.size() < Want)
      Missing.push_back(B.Index);
  }
  if (Missing.empty())
    return Out;
  const BlockInfo &First = C.S.Blocks[Missing.front()];
  bool None = Residuals == 0;
  Finding F =
      makeFinding(Severity::Warning,
                  (None ? formatBlocks(Missing) + " of " +
                              std::to_string(C.S.Blocks.size()) +
                              (Missing.size() == 1 ? " has" : " have") +
                              " no residual connections"
                        : formatBlocks(Missing) +
                              (Missing.size() == 1 ? " lacks" : " lack") +
                              " residual connections around " +
                              std::to_string(Sublayers - Residuals) + " of " +
                              std::to_string(Sublayers) + " sublayers"));
  F.Block = First.Index;
  if (First.Attention)
    F.Node = nodeName(C.M, First.Attention->Softmax);
  F.Evidence["blocks"] = int64_t(C.S.Blocks.size());
  F.Evidence["sublayers"] = Sublayers;
  F.Evidence["residuals"] = Residuals;
  llvm::json::Array List;
  for (unsigned I : Missing)
    List.push_back(I);
  F.Evidence["blocks_missing"] = std::move(List);
  // How much the gradient changes across the stack: input of the first block
  // against the output of the last.
  double In = gradEst(C.A, blockInput(C.S.Blocks.front()));
  double OutGrad = gradEst(C.A, blockOutput(C.S.Blocks.back()));
  std::string Across;
  if (In > 0 && OutGrad > 0) {
    addEvidence(F, "stack_gradient_ratio", In / OutGrad);
    Across = " (the gradient changes " + formatNumber(In / OutGrad) +
             "x across the stack)";
  }
  F.Remedies.push_back(
      "add each sublayer's input to its output, x = x + f(norm(x)) "
      "in pre-norm form, so the gradient has a path that skips "
      "the sublayer" +
      Across);
  F.Remedies.push_back(
      "residual-free stacks train only with special "
      "signal-propagation initialization and attention changes "
      "(He et al., 2023); gradient clipping does nothing for "
      "shrinking gradients");
  Out.push_back(std::move(F));
  return Out;
}

const Rule rules::GL106 = {
    "GL106",           "missing-residual",
    Severity::Warning, "blocks of a deep stack have no residual connections",
    Options,           check};
