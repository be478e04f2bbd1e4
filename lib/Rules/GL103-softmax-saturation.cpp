//===- GL103-softmax-saturation.cpp ---------------------------------------===//
//
// When the softmax puts nearly all its mass on one key, its Jacobian
// diag(p) − ppᵀ is nearly zero: the value projection still learns, but the
// query and key projections get almost no gradient (attention entropy
// collapse). Reads the analysis' mean-over-rows max probability.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"max-prob", 0.9,
     "report when the mean over query rows of max p reaches this"},
    {"starved", 0.1,
     "below this query/key-to-value gradient ratio the message "
     "leads with the starved gradient"},
};

/// Predicted gradient of the block's query, key and value weights (0 when
/// the block has none), from their sub-parameters when fused.
struct QkvGrads {
  double Q = 0, K = 0, V = 0;
};

static QkvGrads qkvGrads(const RuleContext &C, unsigned Block) {
  QkvGrads G;
  for (const ParamView &V : parameterViews(C)) {
    if (V.Role.Block != int(Block))
      continue;
    double Est = V.P->GradNorm.Est;
    if (V.Role.Kind == "attention.q")
      G.Q = Est;
    else if (V.Role.Kind == "attention.k")
      G.K = Est;
    else if (V.Role.Kind == "attention.v")
      G.V = Est;
  }
  return G;
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  double Threshold = C.Options.get("max-prob");
  for (const BlockInfo &B : C.S.Blocks) {
    if (!B.Attention || B.Attention->Softmax == NoId ||
        B.Attention->Softmax >= C.A.Facts.size())
      continue;
    const AttentionInfo &At = *B.Attention;
    const NodeFacts &NF = C.A.Facts[At.Softmax];
    if (NF.SoftmaxMaxProb < Threshold)
      continue;
    QkvGrads G = qkvGrads(C, B.Index);
    double QK = std::sqrt((G.Q * G.Q + G.K * G.K) / 2);
    std::string Block = "block " + std::to_string(B.Index);
    // Starved queries and keys are the usual consequence; with very large
    // weights their gradients can stay large while attention is collapsed.
    std::string Prob = "softmax max-prob " + formatNumber(NF.SoftmaxMaxProb);
    std::string Message;
    bool Starved = G.V > 0 && QK > 0 && QK / G.V < C.Options.get("starved");
    if (Starved)
      Message = "query/key gradient of " + Block + " is " +
                formatNumber(QK / G.V) + " of the value gradient (" + Prob +
                ")";
    else
      Message = "attention of " + Block + " is saturated (" + Prob +
                (G.V > 0 && QK > 0
                     ? "; query/key gradient " + formatNumber(QK / G.V) +
                           " of the value gradient"
                     : std::string()) +
                ")";
    Finding F = makeFinding(Severity::Warning, std::move(Message));
    F.Block = B.Index;
    F.Node = nodeName(C.M, At.Softmax);
    addEvidence(F, "softmax_max_prob", NF.SoftmaxMaxProb);
    addEvidence(F, "softmax_sum_p2", NF.SoftmaxSumP2);
    addEvidence(F, "logit_std", NF.SoftmaxLogitStd);
    if (G.V > 0) {
      addEvidence(F, "query_grad_norm", G.Q);
      addEvidence(F, "key_grad_norm", G.K);
      addEvidence(F, "value_grad_norm", G.V);
      addEvidence(F, "query_key_to_value", QK / G.V);
    }
    if (At.ScaleKnown && At.HeadDim > 0) {
      double Expected = 1 / std::sqrt(double(At.HeadDim));
      addEvidence(F, "scale", At.Scale);
      if (At.Scale > 2 * Expected)
        F.Remedies.push_back(
            "scale the logits by 1/sqrt(d_head) = " + formatNumber(Expected) +
            " instead of " + formatNumber(At.Scale) + " (GL102)");
    }
    F.Remedies.push_back(
        "normalize queries and keys per head before QK^T (QK-LayerNorm), "
        "which bounds the logits whatever the weights do");
    F.Remedies.push_back(
        "or shrink the query and key projections: the logit std is " +
        formatNumber(NF.SoftmaxLogitStd) +
        " and scales with the product of their weight scales");
    if (Starved)
      F.Remedies.push_back(
          "a lower learning rate or gradient clipping does not "
          "bring query/key gradients back");
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL103 = {"GL103",
                           "softmax-saturation",
                           Severity::Warning,
                           "attention puts nearly all its weight on one key, "
                           "starving queries and keys",
                           Options,
                           check};
