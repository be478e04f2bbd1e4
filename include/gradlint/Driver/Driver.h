//===- Driver.h - the subcommands behind the CLI ----------------*- C++ -*-===//
//
// tools/gradlint/main.cpp parses options into these structs and calls the
// matching run* function; each returns the process exit code or an Error
// (which main prints as one line and turns into exit code 2).
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_DRIVER_DRIVER_H
#define GRADLINT_DRIVER_DRIVER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <string>
#include <vector>

namespace gradlint {

/// Exit codes fixed by DESIGN §6.
enum ExitCode : int { ExitOk = 0, ExitFindings = 1, ExitUsage = 2 };

struct ModelOptions {
  std::string ModelPath;
  std::vector<std::string> Dims; ///< "NAME=VALUE"
  std::string Format = "text";
  std::string OutputPath; ///< empty or "-" for stdout
};

llvm::Expected<int> runInspect(const ModelOptions &Opts);

/// `gradlint check` (DESIGN §6). Empty strings and lists mean "not given":
/// the config file's value, else the default, applies.
struct CheckOptions : ModelOptions {
  std::string Loss;      ///< ce | projection
  std::string FailOn;    ///< error | warning | note | never
  std::string Precision; ///< fp32 | fp16 | bf16
  /// Analyse with forward statistics measured by the probe's executor
  /// (include/gradlint/Driver/Calibrate.h).
  bool Calibrate = false;
  std::string ConfigPath;
  std::string BaselinePath;
  std::string WriteBaselinePath;
  std::vector<std::string> Select, Ignore; ///< codes, prefixes, names, ALL
  // --html: the self-contained report (docs/report.md); changes neither the
  // output nor the exit code.
  std::string HtmlPath;    ///< empty: no report
  bool Probe = false;      ///< overlay measured gradients (CPU probe)
  unsigned Steps = 0;      ///< optimizer steps for the report's curves
  uint64_t Seed = 0;       ///< seed of the probe's inputs and targets
  std::string CommandLine; ///< shown in the report's header
};

llvm::Expected<int> runCheck(const CheckOptions &Opts);

class Model;
struct CheckReport;
/// `check --html`: runs the probe when asked and writes the page
/// (lib/Driver/CheckHtml.cpp). A failed probe is noted in the page.
llvm::Error writeCheckHtml(const CheckOptions &Opts, Model &M, const CheckReport &Report);
/// Rejects `--html -`, --probe without --html, and --steps or --seed
/// without --probe.
llvm::Error checkHtmlOptions(const CheckOptions &Opts);
/// The command line as a POSIX shell would read it back, for the report.
std::string quoteCommandLine(llvm::ArrayRef<const char *> Args);

/// `gradlint explain RULE`: the rule's documentation page.
llvm::Expected<int> runExplain(llvm::StringRef Rule, llvm::StringRef OutputPath);
/// `gradlint rules`: code, name, default severity and summary of each rule.
llvm::Expected<int> runListRules(llvm::StringRef Format, llvm::StringRef OutputPath);

/// `gradlint probe` (DESIGN §5): measured gradient norms for the reference
/// loss, and optionally K optimizer steps. Values as given on the command line.
struct ProbeCommandOptions : ModelOptions {
  std::string Device = "cpu";
  unsigned Steps = 0;
  std::string Optimizer = "sgd";
  double LearningRate = 1e-3;
  uint64_t Seed = 0;
  std::string Loss;                ///< ce | projection; empty: DESIGN §3 default
  std::vector<std::string> Inputs; ///< NAME=FILE.pb
  std::string Targets;             ///< FILE.pb
  bool Activations = false;
  bool Timing = false; ///< print each pass's wall time on stderr
};

llvm::Expected<int> runProbeCommand(const ProbeCommandOptions &Opts);

/// `gradlint validate` (DESIGN §5): check and probe on the same model.
struct ValidateOptions : ModelOptions {
  std::string Device = "cpu";
  unsigned Seeds = 3;
  uint64_t Seed = 0;
  std::string Loss; ///< ce | projection; empty: DESIGN §3 default
  bool Calibrate = false; ///< predictions from `check --calibrate`
};
llvm::Expected<int> runValidate(const ValidateOptions &Opts);

/// Opens the output stream named by Path ("" or "-" is stdout).
llvm::Expected<std::unique_ptr<llvm::raw_ostream>>
openOutput(llvm::StringRef Path);

} // namespace gradlint

#endif
