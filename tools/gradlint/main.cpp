//===- main.cpp - the gradlint command line -------------------------------===//
//
// Thin main: options, a table of subcommands, and errors mapped to exit codes.
// All logic lives in lib/.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Driver/Driver.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"

using namespace gradlint;
namespace cl = llvm::cl;

static cl::SubCommand InspectCmd(
    "inspect", "Describe a model: producer, opsets, ops, parameters, shapes");
static cl::SubCommand CheckCmd(
    "check", "Predict gradient norms and report the problems they show");
static cl::SubCommand ExplainCmd("explain", "Print the documentation of a rule");
static cl::SubCommand RulesCmd("rules", "List the rules");
static cl::SubCommand ProbeCmd(
    "probe", "Measure gradient norms by running the model forward and backward");
static cl::SubCommand ValidateCmd(
    "validate", "Compare predicted gradient norms with the probe's measurements");

static cl::OptionCategory Category("gradlint options");

static cl::opt<std::string> ModelPath(cl::Positional, cl::desc("<model.onnx>"),
                                      cl::sub(InspectCmd), cl::sub(CheckCmd),
                                      cl::sub(ValidateCmd), cl::cat(Category));
static cl::list<std::string>
    DimArgs("dim", cl::desc("Bind a symbolic dimension, NAME=VALUE (repeatable)"),
            cl::value_desc("NAME=VALUE"), cl::sub(InspectCmd), cl::sub(CheckCmd),
            cl::sub(ValidateCmd), cl::cat(Category));
static cl::opt<std::string>
    Format("format",
           cl::desc("Output format: text|json (check: also sarif|github)"),
           cl::init("text"), cl::sub(InspectCmd), cl::sub(CheckCmd),
           cl::sub(RulesCmd), cl::sub(ValidateCmd), cl::cat(Category));
static cl::opt<std::string> Output("o", cl::desc("Write output to FILE"),
                                   cl::value_desc("FILE"), cl::sub(InspectCmd),
                                   cl::sub(CheckCmd), cl::sub(ExplainCmd),
                                   cl::sub(RulesCmd), cl::sub(ValidateCmd),
                                   cl::cat(Category));

// check
static cl::opt<std::string> Loss("loss", cl::desc("Reference loss: ce|projection"),
                                 cl::sub(CheckCmd), cl::sub(ValidateCmd),
                                 cl::cat(Category));

// validate
static cl::opt<unsigned> ValidateSeeds("seeds", cl::desc("Probe seeds to average (default 3)"),
                                       cl::init(3), cl::sub(ValidateCmd), cl::cat(Category));
static cl::opt<uint64_t> ValidateSeed("seed", cl::desc("First probe seed"), cl::init(0),
                                      cl::sub(ValidateCmd), cl::cat(Category));
static cl::opt<std::string> ValidateDevice("device", cl::desc("Probe device: cpu|cuda"),
                                           cl::init("cpu"), cl::sub(ValidateCmd),
                                           cl::cat(Category));
static cl::opt<std::string>
    FailOn("fail-on",
           cl::desc("Exit 1 on findings at or above: error|warning|note|never "
                    "(default error)"),
           cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<std::string>
    ConfigPath("config", cl::desc("Read FILE instead of the nearest gradlint.toml"),
               cl::value_desc("FILE"), cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<std::string>
    BaselinePath("baseline", cl::desc("Report only findings not recorded in FILE"),
                 cl::value_desc("FILE"), cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<std::string> WriteBaselinePath(
    "write-baseline", cl::desc("Record the current findings in FILE and exit 0"),
    cl::value_desc("FILE"), cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<std::string>
    Precision("precision", cl::desc("Training precision: fp32|fp16|bf16"),
              cl::sub(CheckCmd), cl::cat(Category));
static_assert(MaxCalibrationPasses == 16, "--calibrate's help text says up to 16 passes");
static cl::opt<bool> Calibrate(
    "calibrate",
    cl::desc("Analyse with forward statistics measured by forward passes of the "
             "probe's executor (no backward): 512 tokens, 2 to 16 passes"),
    cl::sub(CheckCmd), cl::sub(ValidateCmd), cl::cat(Category));
static cl::opt<std::string>
    HtmlPath("html", cl::desc("Also write a self-contained HTML report to FILE"),
             cl::value_desc("FILE"), cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<bool>
    CheckProbe("probe", cl::desc("With --html: measure the gradients (CPU) and show them"),
               cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<unsigned>
    CheckSteps("steps", cl::desc("With --probe: optimizer steps for the training curves"),
               cl::init(0), cl::sub(CheckCmd), cl::cat(Category));
static cl::opt<uint64_t> CheckSeed("seed", cl::desc("With --probe: seed of inputs and targets"),
                                   cl::init(0), cl::sub(CheckCmd), cl::cat(Category));
/// The command as given, for the HTML report's header.
static std::string CommandLine;
static cl::list<std::string>
    Select("select", cl::desc("Run only these rules (codes, prefixes, names, ALL)"),
           cl::value_desc("CODES"), cl::CommaSeparated, cl::sub(CheckCmd),
           cl::cat(Category));
static cl::list<std::string>
    Ignore("ignore", cl::desc("Do not run these rules"), cl::value_desc("CODES"),
           cl::CommaSeparated, cl::sub(CheckCmd), cl::cat(Category));

// explain
static cl::opt<std::string> RuleName(cl::Positional, cl::desc("<rule>"),
                                     cl::sub(ExplainCmd), cl::cat(Category));

// probe
static cl::opt<std::string> ProbeModel(cl::Positional, cl::desc("<model.onnx>"),
                                       cl::sub(ProbeCmd), cl::cat(Category));
static cl::list<std::string>
    ProbeDims("dim", cl::desc("Bind a symbolic dimension, NAME=VALUE (repeatable)"),
              cl::value_desc("NAME=VALUE"), cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<std::string> ProbeFormat("format", cl::desc("Output format: text|json"),
                                        cl::init("text"), cl::sub(ProbeCmd),
                                        cl::cat(Category));
static cl::opt<std::string> ProbeOutput("o", cl::desc("Write output to FILE"),
                                        cl::value_desc("FILE"), cl::sub(ProbeCmd),
                                        cl::cat(Category));
static cl::opt<std::string> ProbeDevice("device", cl::desc("Device: cpu|cuda"),
                                        cl::init("cpu"), cl::sub(ProbeCmd),
                                        cl::cat(Category));
static cl::opt<unsigned> ProbeSteps("steps", cl::desc("Optimizer steps after step 0"),
                                    cl::init(0), cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<std::string> ProbeOptimizer("optimizer", cl::desc("Optimizer: sgd|adam"),
                                           cl::init("sgd"), cl::sub(ProbeCmd),
                                           cl::cat(Category));
static cl::opt<double> ProbeLr("lr", cl::desc("Learning rate (default 1e-3)"),
                               cl::init(1e-3), cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<uint64_t> ProbeSeed("seed", cl::desc("Seed of inputs and targets"),
                                   cl::init(0), cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<std::string> ProbeLoss("loss", cl::desc("Reference loss: ce|projection"),
                                      cl::sub(ProbeCmd), cl::cat(Category));
static cl::list<std::string>
    ProbeInputs("input", cl::desc("Use a TensorProto file for an input (repeatable)"),
                cl::value_desc("NAME=FILE.pb"), cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<std::string>
    ProbeTargets("targets", cl::desc("ce targets (int64) or the projection r (float)"),
                 cl::value_desc("FILE.pb"), cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<bool> ProbeTiming("timing", cl::desc("Print each pass's wall time"),
                                 cl::Hidden, cl::sub(ProbeCmd), cl::cat(Category));
static cl::opt<bool> ProbeActivations("activations",
                                      cl::desc("Also report activation gradient norms"),
                                      cl::sub(ProbeCmd), cl::cat(Category));

static ProbeCommandOptions probeCommandOptions() {
  ProbeCommandOptions O;
  O.ModelPath = ProbeModel;
  O.Dims.assign(ProbeDims.begin(), ProbeDims.end());
  O.Format = ProbeFormat;
  O.OutputPath = ProbeOutput;
  O.Device = ProbeDevice;
  O.Steps = ProbeSteps;
  O.Optimizer = ProbeOptimizer;
  O.LearningRate = ProbeLr;
  O.Seed = ProbeSeed;
  O.Loss = ProbeLoss;
  O.Inputs.assign(ProbeInputs.begin(), ProbeInputs.end());
  O.Targets = ProbeTargets;
  O.Activations = ProbeActivations;
  O.Timing = ProbeTiming;
  return O;
}

namespace {
struct Command {
  cl::SubCommand *Sub;
  llvm::Expected<int> (*Run)();
  bool NeedsModel = true;
};

ModelOptions modelOptions() {
  ModelOptions O;
  O.ModelPath = ModelPath;
  O.Dims.assign(DimArgs.begin(), DimArgs.end());
  O.Format = Format;
  O.OutputPath = Output;
  return O;
}

CheckOptions checkOptions() {
  CheckOptions O;
  static_cast<ModelOptions &>(O) = modelOptions();
  O.Loss = Loss;
  O.FailOn = FailOn;
  O.Precision = Precision;
  O.Calibrate = Calibrate;
  O.ConfigPath = ConfigPath;
  O.BaselinePath = BaselinePath;
  O.WriteBaselinePath = WriteBaselinePath;
  O.Select.assign(Select.begin(), Select.end());
  O.Ignore.assign(Ignore.begin(), Ignore.end());
  O.HtmlPath = HtmlPath;
  O.Probe = CheckProbe;
  O.Steps = CheckSteps;
  O.Seed = CheckSeed;
  O.CommandLine = CommandLine;
  return O;
}

ValidateOptions validateOptions() {
  ValidateOptions O;
  static_cast<ModelOptions &>(O) = modelOptions();
  O.Device = ValidateDevice;
  O.Seeds = ValidateSeeds;
  O.Seed = ValidateSeed;
  O.Loss = Loss;
  O.Calibrate = Calibrate;
  return O;
}

llvm::Expected<int> explain() {
  if (RuleName.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "explain: no rule given; 'gradlint rules' lists them");
  return runExplain(RuleName, Output);
}

const Command Commands[] = {
    {&InspectCmd, [] { return runInspect(modelOptions()); }},
    {&CheckCmd, [] { return runCheck(checkOptions()); }},
    {&ExplainCmd, explain, /*NeedsModel=*/false},
    {&RulesCmd, [] { return runListRules(Format, Output); }, /*NeedsModel=*/false},
    {&ProbeCmd, [] { return runProbeCommand(probeCommandOptions()); }, /*NeedsModel=*/false},
    {&ValidateCmd, [] { return runValidate(validateOptions()); }},
};
} // namespace

static void printVersion(llvm::raw_ostream &OS) {
  OS << "gradlint " << GRADLINT_VERSION << "\n";
}

int main(int Argc, char **Argv) {
  llvm::InitLLVM X(Argc, Argv);
  CommandLine = quoteCommandLine(llvm::makeArrayRef(Argv, Argc));
  cl::SetVersionPrinter(printVersion);
  cl::HideUnrelatedOptions(Category);
  std::string ParseErrors;
  llvm::raw_string_ostream Errs(ParseErrors);
  if (!cl::ParseCommandLineOptions(
          Argc, Argv,
          "gradlint - predict gradient norms of ONNX transformer models\n\n"
          "  gradlint inspect MODEL [--dim NAME=VALUE]... [--format text|json]\n"
          "  gradlint check MODEL [--dim NAME=VALUE]... [--format text|json|sarif|github]\n"
          "                 [--fail-on error|warning|note|never] [--config FILE]\n"
          "                 [--baseline FILE] [--write-baseline FILE] [--loss ce|projection]\n"
          "                 [--precision fp32|fp16|bf16] [--select CODES] [--ignore CODES]\n"
          "                 [--calibrate] [--html FILE [--probe [--steps K] [--seed S]]]\n"
          "  gradlint probe MODEL [--dim NAME=VALUE]... [--steps K] [--optimizer sgd|adam]\n"
          "                 [--lr X] [--seed S] [--device cpu|cuda] [--format text|json]\n"
          "  gradlint validate MODEL [--dim NAME=VALUE]... [--seeds N] [--calibrate]\n"
          "                 [--format text|json]\n"
          "  gradlint explain RULE\n"
          "  gradlint rules [--format text|json]\n",
          &Errs)) {
    Errs.flush();
    llvm::StringRef Msg = llvm::StringRef(ParseErrors).trim();
    Msg.consume_front("gradlint: ");
    llvm::WithColor::error(llvm::errs(), "gradlint") << Msg.split('\n').first
                                                    << "\n";
    return ExitUsage;
  }
  for (const Command &C : Commands) {
    if (!*C.Sub)
      continue;
    if (C.NeedsModel && ModelPath.empty()) {
      llvm::WithColor::error(llvm::errs(), "gradlint")
          << C.Sub->getName() << ": no model given\n";
      return ExitUsage;
    }
    llvm::Expected<int> Code = C.Run();
    if (!Code) {
      llvm::WithColor::error(llvm::errs(), "gradlint")
          << gradlint::printable(llvm::toString(Code.takeError())) << "\n";
      return ExitUsage;
    }
    return *Code;
  }
  llvm::WithColor::error(llvm::errs(), "gradlint")
      << "no command given; try 'gradlint --help'\n";
  return ExitUsage;
}
