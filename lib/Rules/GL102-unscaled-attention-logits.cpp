//===- GL102-unscaled-attention-logits.cpp --------------------------------===//
//
// Scaled dot-product attention multiplies QKᵀ by 1/√d_head so that logits
// of unit-variance queries and keys have unit variance. Assumes q and k
// entries are roughly independent: the logit std grows as scale·√d_head.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"tolerance", 2,
     "report when the scale is more than this factor away from 1/sqrt(d_head)"},
};

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  double Tolerance = C.Options.get("tolerance");
  for (const BlockInfo &B : C.S.Blocks) {
    if (!B.Attention || !B.Attention->ScaleKnown || B.Attention->HeadDim <= 0)
      continue;
    const AttentionInfo &At = *B.Attention;
    double Expected = 1 / std::sqrt(double(At.HeadDim));
    double Ratio = At.Scale / Expected;
    bool TooLarge = Ratio > Tolerance;
    bool TooSmall = Ratio < 1 / Tolerance;
    if (!TooLarge && !TooSmall)
      continue;
    std::string Block = "block " + std::to_string(B.Index);
    Finding F = makeFinding(
        TooLarge ? Severity::Warning : Severity::Note,
        "attention logits of " + Block + " are scaled by " +
            formatNumber(At.Scale) + " instead of 1/sqrt(d_head) = " +
            formatNumber(Expected) + " (d_head " + std::to_string(At.HeadDim) +
            "): " + formatNumber(TooLarge ? Ratio : 1 / Ratio) + "x too " +
            (TooLarge ? "large" : "small"));
    F.Block = B.Index;
    F.Node = nodeName(C.M, At.Scores != NoId ? At.Scores : At.Softmax);
    addEvidence(F, "scale", At.Scale);
    addEvidence(F, "expected_scale", Expected);
    addEvidence(F, "ratio", Ratio);
    F.Evidence["head_dim"] = At.HeadDim;
    F.Evidence["heads"] = At.Heads;
    if (At.Softmax != NoId && At.Softmax < C.A.Facts.size()) {
      const NodeFacts &NF = C.A.Facts[At.Softmax];
      addEvidence(F, "logit_std", NF.SoftmaxLogitStd);
      addEvidence(F, "softmax_max_prob", NF.SoftmaxMaxProb);
    }
    if (At.Softcap > 0)
      addEvidence(F, "softcap", At.Softcap);
    double Fix = Expected / At.Scale;
    F.Remedies.push_back("multiply the logits by " + formatNumber(Fix) +
                         " before the softmax, so that QK^T is scaled by " +
                         formatNumber(Expected) + " = 1/sqrt(" +
                         std::to_string(At.HeadDim) + ")");
    F.Remedies.push_back("or fold the factor into the query projection: scale "
                         "its weight and bias by " +
                         formatNumber(Fix));
    if (TooLarge)
      F.Remedies.push_back(
          "too large a scale saturates the softmax as the weights grow, and "
          "then query and key gradients vanish (GL103)");
    else
      F.Remedies.push_back(
          "too small a scale keeps attention near uniform; muP's 1/d_head "
          "scaling does this on purpose, and then this note can be ignored");
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL102 = {
    "GL102",
    "unscaled-attention-logits",
    Severity::Warning,
    "attention logits are not scaled by about 1/sqrt(d_head)",
    Options,
    check};
