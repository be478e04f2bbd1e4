//===- Engine.h - running the rules and baselines ---------------*- C++ -*-===//
#ifndef GRADLINT_RULES_ENGINE_H
#define GRADLINT_RULES_ENGINE_H

#include "gradlint/Rules/Config.h"

namespace gradlint {

struct RuleRunOptions {
  std::vector<const Rule *> Enabled;   ///< from selectRules
  const CheckConfig *Config = nullptr; ///< severities, options, suppressions
  PrecisionKind Precision = PrecisionKind::FP32;
};

struct RuleResults {
  /// Sorted: model-wide findings first, then by block, rule, parameter,
  /// node and message, so the same model gives the same order.
  std::vector<Finding> Findings;
  unsigned Suppressed = 0; ///< by the config's [[suppress]] entries
};

/// Runs the enabled rules and applies the config.
RuleResults runRules(const Model &M, const AnalysisResult &A,
                     const ModelStructure &S, const RuleRunOptions &Opts);

/// The order runRules sorts findings in.
bool findingLess(const Finding &A, const Finding &B);

/// Findings recorded by --write-baseline (schema "gradlint.baseline/1"):
/// how many findings each fingerprint stood for.
struct Baseline {
  std::map<std::string, unsigned> Counts;
};

llvm::Expected<Baseline> readBaseline(llvm::StringRef Path);
llvm::Error writeBaseline(llvm::StringRef Path, llvm::StringRef ModelPath,
                          llvm::ArrayRef<Finding> Findings);
/// Removes the findings the baseline records; returns how many it removed.
unsigned applyBaseline(const Baseline &B, std::vector<Finding> &Findings);

} // namespace gradlint

#endif
