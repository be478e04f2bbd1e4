//===- Config.h - gradlint.toml ---------------------------------*- C++ -*-===//
//
// What a project can set for `gradlint check` in gradlint.toml (found upward
// from the model's directory, or given with --config):
//
//   [check]                      # each also a command-line option, which wins
//   select = ["GL1"]             # codes, code prefixes, names, or "ALL"
//   ignore = ["GL113"]
//   fail-on = "warning"          # error | warning | note | never
//   precision = "fp16"           # fp32 | fp16 | bf16
//   loss = "ce"                  # ce | projection
//
//   [dims]                       # like --dim NAME=VALUE
//   batch = 8
//
//   [rules.GL101]                # or [rules.vanishing-gradient]
//   severity = "error"           # error | warning | note | off
//   ratio = 1e-4                 # any option the rule declares
//
//   [[suppress]]                 # one per suppression
//   rules = ["GL111"]            # optional: all rules when absent
//   parameters = ["h.*.attn.c_proj.weight"]   # globs; optional
//   nodes = ["/h.0/*"]                        # globs; optional
//   reason = "zero-initialized on purpose"
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_RULES_CONFIG_H
#define GRADLINT_RULES_CONFIG_H

#include "gradlint/Rules/Rule.h"
#include "llvm/Support/Error.h"
#include <map>
#include <string>
#include <vector>

namespace gradlint {

struct Suppression {
  std::vector<const Rule *> Rules;     ///< empty: every rule
  std::vector<std::string> Parameters; ///< globs over parameter names
  std::vector<std::string> Nodes;      ///< globs over node names
  std::string Reason;
  unsigned Line = 0;
};

struct RuleSettings {
  llvm::Optional<Severity> Level;
  bool Off = false;
  std::map<std::string, double> Options;
};

struct CheckConfig {
  std::string Path; ///< the file it came from, empty when none
  llvm::Optional<std::vector<std::string>> Select;
  llvm::Optional<std::vector<std::string>> Ignore;
  llvm::Optional<std::string> FailOn;
  llvm::Optional<std::string> Precision;
  llvm::Optional<std::string> Loss;
  std::map<std::string, int64_t> Dims;
  std::map<const Rule *, RuleSettings> Rules;
  std::vector<Suppression> Suppressions;
};

/// Parses and validates a config; every error names "<Path>:<line>".
llvm::Expected<CheckConfig> parseConfig(llvm::StringRef Text,
                                        llvm::StringRef Path);
/// Reads and parses a config file.
llvm::Expected<CheckConfig> loadConfig(llvm::StringRef Path);

/// The nearest gradlint.toml in the model's directory or above it; empty
/// when there is none.
std::string findConfig(llvm::StringRef ModelPath);

/// Resolves select/ignore lists (codes, code prefixes such as "GL1", rule
/// names, "ALL") to the enabled rules, in code order. An entry that names no
/// rule is an error naming it; What says where it came from.
llvm::Expected<std::vector<const Rule *>>
selectRules(const std::vector<std::string> &Select,
            const std::vector<std::string> &Ignore, llvm::StringRef What);

/// Splits "GL101,GL102" / "GL101 GL102" as --select and --ignore take them.
std::vector<std::string> splitCodeList(llvm::StringRef List);

/// True when a suppression covers the finding.
bool isSuppressed(const Suppression &S, const Finding &F);

} // namespace gradlint

#endif
