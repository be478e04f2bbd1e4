//===- Calibrate.h - measured forward statistics for the analysis -*- C++ -*-===//
//
// `check --calibrate` and `validate --calibrate`: the probe's executor runs
// the model forward (no backward) on synthetic inputs drawn as DESIGN §3
// says, and the analysis takes each value's measured per-feature moments and
// each softmax's measured rows instead of its static summaries.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_DRIVER_CALIBRATE_H
#define GRADLINT_DRIVER_CALIBRATE_H

#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include <algorithm>

namespace gradlint {

/// Forward passes `--calibrate` pools: enough for 512 tokens, 2 to 16 of
/// them; and the seed of the first one's inputs — its own draws, apart from
/// the probe's seeds 0, 1, ...
constexpr unsigned MaxCalibrationPasses = 16;
constexpr uint64_t CalibrationSeed = uint64_t(1) << 20;
inline unsigned calibrationPasses(int64_t TokensPerPass) {
  int64_t Per = std::max<int64_t>(1, TokensPerPass);
  return static_cast<unsigned>(std::clamp<int64_t>((512 + Per - 1) / Per, 2, MaxCalibrationPasses));
}

/// Statistics of every float value the forward pass computes, pooled over
/// Passes passes (0: calibrationPasses of the tokens one pass sees) with
/// input seeds Seed, Seed + 1, ... The probe re-infers shapes with its
/// inputs: call inferShapes(M, Dims) again before analyze(). Errors are the
/// probe's (a node it cannot run, named).
llvm::Expected<std::shared_ptr<const Calibration>>
measureCalibration(Model &M, const DimBindings &Dims, const LossKind *Loss,
                   uint64_t Seed = CalibrationSeed, unsigned Passes = 0);

/// A model as `check` and `validate` analyse it.
struct AnalysedModel {
  std::unique_ptr<Model> M;
  ShapeReport Shapes;
  ModelStructure Structure;
  AnalysisResult A;
};

/// Loads Path, measures the calibration when asked (into Opts.Calibrated;
/// an error names the model and says --calibrate needs the probe), infers
/// shapes with Dims, recovers the structure and analyses.
llvm::Expected<AnalysedModel> analyseModel(llvm::StringRef Path,
                                           const DimBindings &Dims,
                                           AnalysisOptions Opts, bool Calibrate);

} // namespace gradlint

#endif
