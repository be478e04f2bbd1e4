//===- CheckHtml.cpp - `gradlint check --html [--probe]` ------------------===//
//
// The report is written after check's own output and leaves it and the exit
// code alone; with --probe the CPU probe measures the same parameters first.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Driver/Driver.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Report/Check.h"
#include "gradlint/Report/Html.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/WithColor.h"

using namespace gradlint;

llvm::Error gradlint::checkHtmlOptions(const CheckOptions &Opts) {
  if (Opts.HtmlPath == "-")
    return makeError("--html needs a file name: standard output is check's own output");
  if (Opts.Probe && Opts.HtmlPath.empty())
    return makeError("--probe needs --html: the measurements go into the report");
  if ((Opts.Steps || Opts.Seed) && !Opts.Probe)
    return makeError("--steps and --seed need --probe");
  return llvm::Error::success();
}

/// A word as a POSIX shell reads it back.
static std::string shellWord(llvm::StringRef Word) {
  if (!Word.empty() &&
      Word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789_./=:,+-@%") == llvm::StringRef::npos)
    return Word.str();
  std::string Out = "'";
  for (char C : Word)
    Out += C == '\'' ? std::string("'\\''") : std::string(1, C);
  return Out + "'";
}

std::string gradlint::quoteCommandLine(llvm::ArrayRef<const char *> Args) {
  std::string Out;
  for (const char *A : Args)
    Out += (Out.empty() ? "" : " ") + shellWord(A);
  return Out;
}

llvm::Error gradlint::writeCheckHtml(const CheckOptions &Opts, Model &M,
                                     const CheckReport &Report) {
  HtmlReportInput In(Report);
  In.CommandLine = Opts.CommandLine;
  std::optional<ProbeResult> Probe;
  if (Opts.Probe) {
    ProbeOptions PO;
    PO.Seed = Opts.Seed;
    PO.Steps = Opts.Steps;
    PO.Dims = DimBindings(Report.Shapes.Dims.begin(), Report.Shapes.Dims.end());
    PO.Loss = Report.A.Setup.Loss; // the analysis' loss, forced or default
    PO.Activations = true;         // the residual stream's measured gradient
    auto P = runProbe(M, PO);
    if (P) {
      Probe = std::move(*P);
      In.Probe = &*Probe;
    } else {
      In.ProbeError = llvm::toString(P.takeError());
      llvm::WithColor::warning(llvm::errs(), "gradlint")
          << "--probe: " << In.ProbeError << "; the report has predictions only\n";
    }
  }
  if (llvm::Error E = llvm::writeToOutput(Opts.HtmlPath, [&](llvm::raw_ostream &OS) {
        return writeHtmlReport(OS, In);
      }))
    return fileError(Opts.HtmlPath, "cannot write the report: " + llvm::toString(std::move(E)));
  return llvm::Error::success();
}
