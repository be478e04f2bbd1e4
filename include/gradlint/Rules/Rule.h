//===- Rule.h - what a rule is and what it reports --------------*- C++ -*-===//
//
// A rule reads the analysis (predicted gradient norms, forward summaries,
// node facts) and the recovered structure, and returns findings: a message
// in the compiler's style, a location (node, block, parameter), the numbers
// that triggered it and the remedies. One rule per file in lib/Rules/,
// registered in lib/Rules/Registry.cpp, documented in docs/rules/.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_RULES_RULE_H
#define GRADLINT_RULES_RULE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Optional.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"
#include <map>
#include <string>
#include <vector>

namespace gradlint {

class Model;
struct AnalysisResult;
struct ModelStructure;

enum class Severity : uint8_t { Note, Warning, Error };

llvm::StringRef severityName(Severity S); ///< "note", "warning", "error"
llvm::Optional<Severity> parseSeverity(llvm::StringRef S);

/// The numeric format training will run in: decides which gradients
/// underflow (GL105).
enum class PrecisionKind : uint8_t { FP32, FP16, BF16 };

llvm::StringRef precisionName(PrecisionKind P); ///< "fp32", "fp16", "bf16"
llvm::Optional<PrecisionKind> parsePrecision(llvm::StringRef S);

/// One problem found in the model.
struct Finding {
  llvm::StringRef Code; ///< "GL103"; filled by the engine
  llvm::StringRef Name; ///< "softmax-saturation"; filled by the engine
  Severity Level = Severity::Warning;
  /// Lowercase, no trailing period, concrete numbers, no rule code.
  std::string Message;
  /// Each a separate `note:` line; numeric where the remedy is a number.
  std::vector<std::string> Remedies;
  std::string Node;            ///< node name, empty for model-wide findings
  int Block = -1;              ///< transformer block, -1 outside blocks
  std::string Parameter;       ///< parameter or sub-parameter name, or empty
  llvm::json::Object Evidence; ///< the numbers that triggered it

  /// Stable across runs and across changes of the numbers: rule, block,
  /// node and parameter, hashed. Baselines and SARIF use it.
  std::string fingerprint() const;
};

/// A tunable threshold of a rule, with its default.
struct RuleOption {
  llvm::StringRef Name; ///< kebab-case, as written in gradlint.toml
  double Default;
  llvm::StringRef Help;
};

/// Option values in force for one rule: the config's or the defaults.
class RuleOptions {
public:
  RuleOptions(llvm::ArrayRef<RuleOption> Declared,
              const std::map<std::string, double> *Overrides = nullptr)
      : Declared(Declared), Overrides(Overrides) {}
  /// The value of a declared option; asserts that Name is declared.
  double get(llvm::StringRef Name) const;

private:
  llvm::ArrayRef<RuleOption> Declared;
  const std::map<std::string, double> *Overrides;
};

/// What a rule may read.
struct RuleContext {
  const Model &M;
  const AnalysisResult &A;
  const ModelStructure &S;
  PrecisionKind Precision = PrecisionKind::FP32; ///< the training plan
  RuleOptions Options;
};

struct Rule {
  llvm::StringRef Code; ///< "GL103": stable once released
  llvm::StringRef Name; ///< "softmax-saturation"
  Severity DefaultSeverity;
  llvm::StringRef Summary; ///< one line for `gradlint rules`
  llvm::ArrayRef<RuleOption> Options;
  /// Returns the findings in any order; the engine fills Code and Name,
  /// applies severities, suppressions and sorting.
  std::vector<Finding> (*Check)(const RuleContext &C);

  /// "GL103-softmax-saturation": the stem of its source, doc and test files.
  std::string fileStem() const { return (Code + "-" + Name).str(); }
};

} // namespace gradlint

#endif
