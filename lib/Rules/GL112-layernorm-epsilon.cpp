//===- GL112-layernorm-epsilon.cpp ----------------------------------------===//
//
// A norm divides by sqrt(var + ε). When ε is not small against the input's
// variance over the normalized axis (its mean square for RMSNorm), the norm
// no longer normalizes: it scales its output, and its gradient, by
// sqrt(var / (var + ε)) < 1, and compounds over a stack.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"ratio", 0.1,
     "report when epsilon reaches this fraction of the input variance"},
};

/// Variance over the normalized (last) axis, averaged over rows: the
/// analysis' fact when it has one, else from the per-feature moments
/// (features independent): E_j(var_j + mean_j²) − (E_j mean_j)² − E_j var_j /
/// d.
static double inputVariance(const RuleContext &C, const NormInfo &N) {
  for (NodeId Id : N.Nodes)
    if (Id < C.A.Facts.size() && C.A.Facts[Id].NormInputVar > 0)
      return C.A.Facts[Id].NormInputVar;
  if (N.Input == NoId || N.Input >= C.A.Forward.size())
    return 0;
  const ValueSummary &S = C.A.Forward[N.Input];
  if (!hasMoments(S))
    return 0;
  double Square = meanSquare(S);
  if (N.Kind == NormKind::RMSNorm)
    return Square;
  double Mean = 0, Var = 0;
  for (size_t J = 0; J < S.Mean.size(); ++J) {
    Mean += S.Mean[J];
    Var += S.Var[J];
  }
  double D = double(S.Mean.size());
  Mean /= D;
  Var /= D;
  return std::max(0.0, Square - Mean * Mean - Var / D);
}

static void checkNorm(const RuleContext &C, const NormInfo &N, int Block,
                      std::vector<Finding> &Out) {
  double Eps = N.Epsilon;
  for (NodeId Id : N.Nodes)
    if (Eps <= 0 && Id < C.A.Facts.size())
      Eps = C.A.Facts[Id].NormEpsilon;
  double Var = inputVariance(C, N);
  if (!(Eps > 0) || !(Var > 0) || Eps / Var < C.Options.get("ratio"))
    return;
  std::string Kind = normKindName(N.Kind).str();
  std::string Where = Block >= 0 ? " in block " + std::to_string(Block) : "";
  if (!N.Sublayer.empty())
    Where += N.Sublayer == "final" ? " (final)" : " (" + N.Sublayer + ")";
  double Shrink = std::sqrt(Var / (Var + Eps));
  Finding F = makeFinding(
      Severity::Warning,
      Kind + Where + " has epsilon " + formatNumber(Eps) + ", " +
          formatNumber(Eps / Var) + " of its input " +
          (N.Kind == NormKind::RMSNorm ? "mean square " : "variance ") +
          formatNumber(Var) + ": it scales its output and gradient by " +
          formatNumber(Shrink));
  F.Block = Block;
  F.Node = N.Nodes.empty() ? "" : nodeName(C.M, N.Nodes.front());
  if (N.Gamma != NoId)
    F.Parameter = C.M.G.Values[N.Gamma].Name;
  addEvidence(F, "epsilon", Eps);
  addEvidence(F, "input_variance", Var);
  addEvidence(F, "ratio", Eps / Var);
  addEvidence(F, "output_scale", Shrink);
  double Recommended = std::pow(10.0, std::floor(std::log10(0.01 * Var)));
  F.Remedies.push_back(
      "use epsilon " + formatNumber(Recommended) +
      " (at most 1% of the input " +
      (N.Kind == NormKind::RMSNorm ? "mean square" : "variance") + ")");
  F.Remedies.push_back(
      "or find why the input is so small: a tiny initialization "
      "upstream (GL111) shrinks every activation");
  Out.push_back(std::move(F));
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  for (const NormInfo &N : C.S.EmbeddingNorms)
    checkNorm(C, N, -1, Out);
  for (const BlockInfo &B : C.S.Blocks)
    for (const NormInfo &N : B.Norms)
      checkNorm(C, N, B.Index, Out);
  for (const NormInfo &N : C.S.FinalNorms)
    checkNorm(C, N, -1, Out);
  return Out;
}

const Rule rules::GL112 = {
    "GL112",
    "layernorm-epsilon",
    Severity::Warning,
    "a norm's epsilon is not small against its input's variance",
    Options,
    check};
