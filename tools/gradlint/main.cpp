//===- main.cpp - the gradlint command line -------------------------------===//
//
// Thin main: options, a table of subcommands, and errors mapped to exit codes.
// All logic lives in lib/.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Driver/Driver.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"

using namespace gradlint;
namespace cl = llvm::cl;

static cl::SubCommand InspectCmd(
    "inspect", "Describe a model: producer, opsets, ops, parameters, shapes");

static cl::OptionCategory Category("gradlint options");

static cl::opt<std::string> ModelPath(cl::Positional, cl::desc("<model.onnx>"),
                                      cl::sub(InspectCmd), cl::cat(Category));
static cl::list<std::string>
    DimArgs("dim", cl::desc("Bind a symbolic dimension, NAME=VALUE (repeatable)"),
            cl::value_desc("NAME=VALUE"), cl::sub(InspectCmd), cl::cat(Category));
static cl::opt<std::string> Format("format", cl::desc("Output format: text|json"),
                                   cl::init("text"), cl::sub(InspectCmd),
                                   cl::cat(Category));
static cl::opt<std::string> Output("o", cl::desc("Write output to FILE"),
                                   cl::value_desc("FILE"), cl::sub(InspectCmd),
                                   cl::cat(Category));

namespace {
struct Command {
  cl::SubCommand *Sub;
  llvm::Expected<int> (*Run)();
};

ModelOptions modelOptions() {
  ModelOptions O;
  O.ModelPath = ModelPath;
  O.Dims.assign(DimArgs.begin(), DimArgs.end());
  O.Format = Format;
  O.OutputPath = Output;
  return O;
}

const Command Commands[] = {
    {&InspectCmd, [] { return runInspect(modelOptions()); }},
};
} // namespace

/// Error messages quote names from the model; control characters in them
/// must not break the one-line contract or drive the terminal.
static std::string printable(llvm::StringRef S) {
  std::string Out;
  for (unsigned char C : S) {
    if (C < 0x20 || C == 0x7f) {
      char Buf[8];
      snprintf(Buf, sizeof Buf, "\\x%02x", C);
      Out += Buf;
    } else {
      Out += static_cast<char>(C);
    }
  }
  return Out;
}

static void printVersion(llvm::raw_ostream &OS) {
  OS << "gradlint " << GRADLINT_VERSION << "\n";
}

int main(int Argc, char **Argv) {
  llvm::InitLLVM X(Argc, Argv);
  cl::SetVersionPrinter(printVersion);
  cl::HideUnrelatedOptions(Category);
  std::string ParseErrors;
  llvm::raw_string_ostream Errs(ParseErrors);
  if (!cl::ParseCommandLineOptions(
          Argc, Argv,
          "gradlint - predict gradient norms of ONNX transformer models\n\n"
          "  gradlint inspect MODEL [--dim NAME=VALUE]... [--format text|json]\n",
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
    if (ModelPath.empty()) {
      llvm::WithColor::error(llvm::errs(), "gradlint")
          << C.Sub->getName() << ": no model given\n";
      return ExitUsage;
    }
    llvm::Expected<int> Code = C.Run();
    if (!Code) {
      llvm::WithColor::error(llvm::errs(), "gradlint")
          << printable(llvm::toString(Code.takeError())) << "\n";
      return ExitUsage;
    }
    return *Code;
  }
  llvm::WithColor::error(llvm::errs(), "gradlint")
      << "no command given; try 'gradlint --help'\n";
  return ExitUsage;
}
