//===- GL104-exploding-gradient.cpp ---------------------------------------===//
//
// Two signs of gradients that explode toward the input: the gradient of the
// residual stream grows by a steady factor per block (geometric growth with
// depth), or a parameter's gradient is far above the same parameter in the
// last block, the one nearest the loss (70x, the ratio runtime monitors such
// as AUTOTRAINER use). Same-role comparison assumes blocks are alike, which
// stacks of identical blocks are.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cfloat>
#include <cmath>
#include <map>
#include <set>

using namespace gradlint;

static const RuleOption Options[] = {
    {"ratio", 70,
     "report a parameter above this multiple of the same parameter "
     "in the last block, and a stream growth above it"},
    {"gain", 1.5,
     "report a residual-stream gradient growing by this factor per "
     "block on average"},
    {"min-blocks", 3, "blocks needed before growth counts as geometric"},
};

static void streamGrowth(const RuleContext &C, std::vector<Finding> &Out) {
  std::vector<const BlockInfo *> Known;
  for (const BlockInfo &B : C.S.Blocks)
    if (gradEst(C.A, blockInput(B)) > 0 && gradEst(C.A, blockOutput(B)) > 0)
      Known.push_back(&B);
  if (Known.size() < C.Options.get("min-blocks"))
    return;
  const BlockInfo &First = *Known.front(), &Last = *Known.back();
  double In = gradEst(C.A, blockInput(First));
  double OutGrad = gradEst(C.A, blockOutput(Last));
  double Total = In / OutGrad;
  double PerBlock = std::pow(Total, 1.0 / Known.size());
  if (PerBlock < C.Options.get("gain") && Total < C.Options.get("ratio"))
    return;
  Finding F = makeFinding(
      Severity::Warning,
      "gradient of the residual stream grows " + formatNumber(Total) +
          "x from the output of block " + std::to_string(Last.Index) +
          " to the input of block " + std::to_string(First.Index) + " (" +
          formatNumber(PerBlock) + "x per block)");
  F.Block = First.Index;
  ValueId In0 = blockInput(First);
  if (NodeId P = In0 != NoId ? C.M.G.Values[In0].Producer : NoId; P != NoId)
    F.Node = nodeName(C.M, P);
  addEvidence(F, "growth", Total);
  addEvidence(F, "gain_per_block", PerBlock);
  addEvidence(F, "input_grad_norm", In);
  addEvidence(F, "output_grad_norm", OutGrad);
  llvm::json::Array Gains;
  for (const BlockInfo *B : Known)
    Gains.push_back(gradEst(C.A, blockInput(*B)) /
                    gradEst(C.A, blockOutput(*B)));
  F.Evidence["gain_by_block"] = std::move(Gains);
  F.Remedies.push_back(
      "shrink what each block adds to the stream: initialize the output "
      "projections of attention and feed-forward with std scaled by "
      "1/sqrt(2N) = " +
      formatNumber(1 / std::sqrt(2.0 * C.S.Blocks.size())) + " for N = " +
      std::to_string(C.S.Blocks.size()) + " blocks (GPT-2's rule)");
  if (llvm::any_of(C.S.Blocks, [](const BlockInfo &B) {
        return B.Norms.empty() && B.Norm == NormPlacement::None;
      }))
    F.Remedies.push_back(
        "normalize each sublayer's input (pre-norm): the blocks "
        "have no normalization (GL107)");
  F.Remedies.push_back(
      "gradient clipping caps the update size but leaves the "
      "early blocks' gradients out of scale with the late ones");
  Out.push_back(std::move(F));
}

static void parameterGrowth(const RuleContext &C, std::vector<Finding> &Out) {
  std::vector<ParamView> Views = parameterViews(C);
  std::set<std::string> SplitParents;
  for (const ParamView &V : Views)
    if (V.isSub())
      SplitParents.insert(V.P->Parent);
  // The same role in the last block that has it is the reference.
  std::map<std::string, const ParamView *> Reference;
  for (const ParamView &V : Views) {
    if (V.Role.Block < 0 || V.Role.Kind.empty())
      continue;
    const ParamView *&R = Reference[V.Role.Kind];
    if (!R || V.Role.Block > R->Role.Block)
      R = &V;
  }
  double Limit = C.Options.get("ratio");
  for (const ParamView &V : Views) {
    if (V.Role.Block < 0 || V.Role.Kind.empty() ||
        SplitParents.count(V.P->Name))
      continue;
    const ParamView *R = Reference[V.Role.Kind];
    double Est = V.P->GradNorm.Est, Ref = R->P->GradNorm.Est;
    bool Overflows =
        V.Elements && !(Est / std::sqrt(double(V.Elements)) < FLT_MAX);
    if (R == &V || !(Ref > 0) || (Est / Ref <= Limit && !Overflows))
      continue;
    Finding F = makeFinding(
        Overflows ? Severity::Error : Severity::Warning,
        "gradient of " + describe(V) + " is " + formatNumber(Est / Ref) +
            "x that of the same parameter in block " +
            std::to_string(R->Role.Block) + " (" + formatNumber(Est) +
            " against " + formatNumber(Ref) + ")");
    F.Block = V.Role.Block;
    F.Parameter = V.P->Name;
    F.Node = nodeName(C.M, V.P->Consumer);
    addEvidence(F, "grad_norm", Est);
    addEvidence(F, "reference_grad_norm", Ref);
    F.Evidence["reference_parameter"] = R->P->Name;
    addEvidence(F, "ratio", Est / Ref);
    if (Overflows)
      F.Remedies.push_back(
          "its elements overflow float32: training produces inf");
    F.Remedies.push_back("the gradient grows on its way from block " +
                         std::to_string(R->Role.Block) + " down to block " +
                         std::to_string(V.Role.Block) +
                         ": look for a large initialization (GL111) or missing "
                         "normalization (GL107)");
    F.Remedies.push_back(
        "gradient clipping caps the update size but does not fix "
        "the imbalance between blocks");
    Out.push_back(std::move(F));
  }
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  streamGrowth(C, Out);
  parameterGrowth(C, Out);
  return Out;
}

const Rule rules::GL104 = {
    "GL104",           "exploding-gradient",
    Severity::Warning, "gradients grow geometrically toward the input",
    Options,           check};
