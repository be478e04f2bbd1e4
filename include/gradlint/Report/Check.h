//===- Check.h - `gradlint check` output ------------------------*- C++ -*-===//
//
// Four renderings of one check result: compiler-style text with a per-block
// table of predicted gradient norms, JSON (schema gradlint.check/1, DESIGN
// §6), SARIF 2.1.0 for code scanning, and GitHub workflow annotations. Every
// list is sorted, so the same model and options give the same bytes.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_REPORT_CHECK_H
#define GRADLINT_REPORT_CHECK_H

#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Rules/Rule.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace gradlint {

struct CheckReport {
  CheckReport(const Model &M, const ShapeReport &Shapes,
              const ModelStructure &S, const AnalysisResult &A)
      : M(M), Shapes(Shapes), S(S), A(A) {}
  const Model &M;
  const ShapeReport &Shapes;
  const ModelStructure &S;
  const AnalysisResult &A;
  std::vector<Finding> Findings; ///< after config, suppressions and baseline
  std::vector<const Rule *> Enabled; ///< rules that ran, in code order
  /// The model as the user named it (text and annotations), and as a URI
  /// relative to the working directory (SARIF), '/'-separated.
  std::string DisplayPath, ArtifactUri;
  PrecisionKind Precision = PrecisionKind::FP32;
  unsigned Suppressed = 0; ///< by the config
  unsigned Baselined = 0;  ///< by --baseline
  std::string ConfigPath;  ///< the config that applied, or empty
};

/// Findings as `path: severity: message [CODE]` lines with `note:` lines for
/// remedies (coloured when OS is a terminal), the table of predicted gradient
/// norms per block, and a count line.
void printCheckText(llvm::raw_ostream &OS, const CheckReport &R);
/// Schema "gradlint.check/1".
llvm::json::Object checkJson(const CheckReport &R);
/// SARIF 2.1.0 as GitHub code scanning accepts it.
llvm::json::Object checkSarif(const CheckReport &R);
/// `::warning file=...::message` lines for GitHub Actions.
void printCheckGithub(llvm::raw_ostream &OS, const CheckReport &R);

/// {"lo", "est", "hi"}: hi is null when unbounded.
llvm::json::Object boundJson(const Bound &B);

} // namespace gradlint

#endif
