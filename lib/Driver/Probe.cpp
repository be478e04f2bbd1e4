//===- Probe.cpp - `gradlint probe` ---------------------------------------===//
#include "gradlint/Driver/Driver.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Probe/ProbeReport.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"

using namespace gradlint;

namespace {
llvm::Expected<ProbeOptions> probeOptions(const ProbeCommandOptions &C) {
  ProbeOptions O;
  if (C.Format != "text" && C.Format != "json")
    return makeError("--format must be text or json for probe, got '" +
                     C.Format + "'");
  for (const std::string &D : C.Dims)
    if (llvm::Error E = parseDimBinding(D, O.Dims))
      return E;
  if (C.Device != "cpu" && C.Device != "cuda")
    return makeError("--device must be cpu or cuda, got '" + C.Device + "'");
  O.Device = C.Device;
  if (C.Optimizer == "sgd")
    O.Optimizer = OptimizerKind::SGD;
  else if (C.Optimizer == "adam")
    O.Optimizer = OptimizerKind::Adam;
  else
    return makeError("--optimizer must be sgd or adam, got '" + C.Optimizer + "'");
  if (!(C.LearningRate > 0) || !std::isfinite(C.LearningRate))
    return makeError("--lr must be a positive number");
  O.LearningRate = C.LearningRate;
  O.Steps = C.Steps;
  O.Seed = C.Seed;
  if (!C.Loss.empty()) {
    auto L = parseLossName(C.Loss);
    if (!L)
      return L.takeError();
    O.Loss = *L;
  }
  for (const std::string &I : C.Inputs) {
    auto [Name, Path] = llvm::StringRef(I).split('=');
    if (Name.empty() || Path.empty())
      return makeError("--input expects NAME=FILE.pb, got '" + I + "'");
    O.InputFiles[Name.str()] = Path.str();
  }
  O.TargetsFile = C.Targets;
  O.Activations = C.Activations;
  return O;
}
} // namespace

llvm::Expected<int> gradlint::runProbeCommand(const ProbeCommandOptions &C) {
  if (C.ModelPath.empty())
    return makeError("probe: no model given");
  auto O = probeOptions(C);
  if (!O)
    return O.takeError();
  auto M = loadModel(C.ModelPath);
  if (!M)
    return M.takeError();
  bool Progress = llvm::sys::Process::StandardErrIsDisplayed();
  if (Progress)
    O->OnProgress = [](unsigned Done, unsigned Total) {
      llvm::errs() << "\rprobe: pass " << Done << "/" << Total;
      if (Done == Total)
        llvm::errs() << "\r\x1b[K";
      llvm::errs().flush();
    };
  auto R = runProbe(**M, *O);
  if (!R)
    return R.takeError();
  if (C.Timing)
    for (size_t I = 0; I != R->PassSeconds.size(); ++I)
      llvm::errs() << "probe: pass " << I << ": "
                   << llvm::format("%.4f", R->PassSeconds[I]) << " s\n";
  auto OS = openOutput(C.OutputPath);
  if (!OS)
    return OS.takeError();
  if (C.Format == "json")
    **OS << llvm::formatv("{0:2}", probeJson(**M, *R, *O)) << "\n";
  else
    printProbeText(**OS, **M, *R, *O);
  return ExitOk;
}
