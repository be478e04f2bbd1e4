//===- GL108-deep-post-norm.cpp -------------------------------------------===//
//
// Post-norm blocks, x = LN(x + f(x)), put a normalization on the main path
// of the gradient in every block; deep stacks of them train only with
// learning-rate warmup and still diverge past a depth (Xiong et al. 2020,
// Liu et al. 2020). DeepNorm (Wang et al. 2022) up-weights the skip path by
// α = (2N)^(1/4) and scales the initialization by β = (8N)^(-1/4) for an
// N-block encoder-only or decoder-only stack.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"min-blocks", 13, "post-norm stacks with fewer blocks are not reported"},
};

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  std::vector<unsigned> Post;
  for (const BlockInfo &B : C.S.Blocks)
    if (B.Norm == NormPlacement::Post)
      Post.push_back(B.Index);
  if (Post.empty() || Post.size() < C.Options.get("min-blocks"))
    return Out;
  double N = double(Post.size());
  double Alpha = std::pow(2 * N, 0.25), Beta = std::pow(8 * N, -0.25);
  const BlockInfo &First = C.S.Blocks[Post.front()];
  const BlockInfo &Last = C.S.Blocks[Post.back()];
  Finding F = makeFinding(Severity::Warning,
                          std::to_string(Post.size()) +
                              " post-norm blocks in a stack: too deep to train "
                              "reliably with the norm after each residual add");
  F.Block = First.Index;
  if (!First.Norms.empty() && !First.Norms.front().Nodes.empty())
    F.Node = nodeName(C.M, First.Norms.front().Nodes.front());
  F.Evidence["post_norm_blocks"] = int64_t(Post.size());
  addEvidence(F, "deepnorm_alpha", Alpha);
  addEvidence(F, "deepnorm_beta", Beta);
  double In = gradEst(C.A, blockInput(First));
  double OutGrad = gradEst(C.A, blockOutput(Last));
  if (In > 0 && OutGrad > 0)
    addEvidence(F, "stack_gradient_ratio", In / OutGrad);
  F.Remedies.push_back(
      "use DeepNorm: x = LN(" + formatNumber(Alpha) +
      " * x + f(x)) (alpha = (2N)^(1/4) "
      "for N = " +
      std::to_string(Post.size()) +
      "), and initialize the feed-forward, value and output projections with "
      "Xavier gain beta = (8N)^(-1/4) = " +
      formatNumber(Beta) + " (query and key projections with gain 1)");
  F.Remedies.push_back("or move the norms before each sublayer (pre-norm, "
                       "x = x + f(LN(x))) and add a norm after the last block");
  F.Remedies.push_back(
      "or keep post-norm and warm the learning rate up over the "
      "first few thousand steps; warmup tames early updates but "
      "does not change the initial gradients");
  Out.push_back(std::move(F));
  return Out;
}

const Rule rules::GL108 = {"GL108",
                           "deep-post-norm",
                           Severity::Warning,
                           "a deep stack of post-norm blocks, which needs "
                           "DeepNorm, pre-norm or warmup",
                           Options,
                           check};
