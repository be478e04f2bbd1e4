//===- RuleSupport.h - helpers the rules share ------------------*- C++ -*-===//
//
// Internal to lib/Rules: the rule objects (each defined in its own
// GL<nnn>-<name>.cpp), number formatting for messages, Gaussian tail
// masses over forward summaries, and the structure and parameter look-ups
// that several rules need.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_RULES_RULESUPPORT_H
#define GRADLINT_LIB_RULES_RULESUPPORT_H

#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Rules/Rule.h"
#include "gradlint/Structure/Structure.h"
#include <functional>
#include <optional>

namespace gradlint {

namespace rules {
extern const Rule GL101, GL102, GL103, GL104, GL105, GL106, GL107, GL108, GL109,
    GL110, GL111, GL112, GL113;
} // namespace rules

/// A number for a message: "0.998", "12.5", "3.1e-6", "inf".
std::string formatNumber(double V);
/// A share as a percentage: "72%", "0.5%".
std::string formatPercent(double Share);
/// "blocks 0-5", "block 3", "blocks 1, 4 and 7".
std::string formatBlocks(llvm::ArrayRef<unsigned> Blocks);

/// Standard normal CDF.
double normalCdf(double Z);
/// E over features of P(|x| ≥ T), each feature x ~ N(mean, var).
double tailShare(const ValueSummary &S, double T);
/// E over features of P(x ≤ 0), each feature x ~ N(mean, var).
double nonPositiveShare(const ValueSummary &S);
/// E over features of E f(x), each feature x ~ N(mean, var), by Simpson's
/// rule; F must be negligible at |x| > Support.
double gaussianMean(const ValueSummary &S,
                    const std::function<double(double)> &F, double Support);
/// E x² over all elements, from per-feature means and variances.
double meanSquare(const ValueSummary &S);
/// True when the summary holds per-feature moments.
inline bool hasMoments(const ValueSummary &S) {
  return !S.Var.empty() && S.Var.size() == S.Mean.size();
}

/// A parameter prediction with where it sits in the model.
struct ParamView {
  const ParameterPrediction *P = nullptr;
  ModelStructure::Role Role;
  uint64_t Elements = 0;
  bool isSub() const { return !P->Parent.empty(); }
};

/// Every parameter prediction with its role, in the analysis' order.
std::vector<ParamView> parameterViews(const RuleContext &C);

/// "block 7 attention query projection 'NAME'", or "parameter 'NAME'".
std::string describe(const ParamView &V);
/// The node's name, or "" for NoId.
std::string nodeName(const Model &M, NodeId N);

/// The fans of a 2-D weight as its MatMul/Gemm uses it.
struct LinearFans {
  int64_t FanIn = 0, FanOut = 0;
  NodeId Product = NoId; ///< the MatMul or Gemm
};
std::optional<LinearFans> linearFans(const Graph &G, ValueId W);

/// The 2-D weight initializer of the linear layer that produces V, looking
/// through a bias Add; NoId when V is not such an output.
ValueId producingWeight(const Graph &G, ValueId V);

/// The value entering and leaving a block: the skip input of its first
/// residual (else the input of its first sublayer or norm) and the output of
/// its last residual (else of its last sublayer). NoId when unknown.
ValueId blockInput(const BlockInfo &B);
ValueId blockOutput(const BlockInfo &B);

/// Predicted ‖dL/dv‖ (est) of a value, 0 when unknown.
double gradEst(const AnalysisResult &A, ValueId V);

/// A finding with its level and message; the rule adds the rest.
Finding makeFinding(Severity Level, std::string Message);

/// Adds "name": number to a finding's evidence (non-finite numbers as null).
void addEvidence(Finding &F, llvm::StringRef Key, double V);

} // namespace gradlint

#endif
