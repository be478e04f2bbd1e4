//===- Probe.h - measured gradients for the reference loss ------*- C++ -*-===//
//
// `gradlint probe` as a library (DESIGN §5): draws the reference inputs and
// targets (Reference.h), runs the executor forward and backward on a device,
// and measures ‖dL/dW‖ for every parameter and sub-parameter, optionally for
// K optimizer steps. `validate`, `--calibrate` and the HTML report call it.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_PROBE_PROBE_H
#define GRADLINT_PROBE_PROBE_H

#include "gradlint/IR/Graph.h"
#include "gradlint/Reference/Reference.h"
#include "gradlint/Shape/ShapeInference.h"
#include <functional>
#include <map>
#include <optional>

namespace gradlint {

enum class OptimizerKind { SGD, Adam };

struct ProbeOptions {
  std::string Device = "cpu"; ///< "cpu", or "cuda" through the plugin
  unsigned Threads = 2;       ///< CPU threads (OpenBLAS and the kernel pool)
  uint64_t Seed = 0;
  DimBindings Dims;                    ///< `--dim`
  std::optional<LossKind> Loss;        ///< `--loss`; default as DESIGN §3
  std::map<std::string, std::string> InputFiles; ///< `--input NAME=FILE.pb`
  std::string TargetsFile; ///< `--targets`: ce targets or the projection r
  unsigned Steps = 0;      ///< optimizer steps after step 0
  OptimizerKind Optimizer = OptimizerKind::SGD;
  double LearningRate = 1e-3;
  bool Activations = false; ///< also measure ‖dL/dv‖ of every activation
  /// Run decomposed LayerNorm/RMSNorm patterns as one kernel
  /// (ExecutorOptions::FuseNorms); their interior values are then not
  /// computed or reported.
  bool FuseNorms = true;
  /// Forward pass only (no gradients, no steps): for activation statistics.
  bool ForwardOnly = false;
  /// Called on the host with every float value the forward pass computes
  /// (graph inputs and node outputs, not initializers), in execution order.
  std::function<void(ValueId, const float *Data, llvm::ArrayRef<int64_t> Shape)>
      OnForwardValue;
  /// Called after each pass: (passes done, passes in all).
  std::function<void(unsigned, unsigned)> OnProgress;
};

struct ParamGrad {
  std::string Name; ///< initializer name, or "NAME[q]" for a sub-parameter
  double GradNorm = 0;
  Dims Shape;
  std::string Parent; ///< for a sub-parameter: the initializer's name
};

struct StepRecord {
  unsigned Step = 0; ///< 1..K: after the Step-th optimizer update
  double Loss = 0;   ///< the loss at the updated weights
  /// ‖ΔW‖/‖W‖ of this update per parameter (‖W‖ before it), sorted by name.
  std::vector<std::pair<std::string, double>> UpdateRatios;
};

struct ProbeResult {
  std::string LossKind; ///< "ce" or "projection"
  double Loss0 = 0;     ///< the loss at the initial weights
  /// Every float initializer the loss reaches differentiably (attention
  /// mask buffers excepted, as in the analysis), and the sub-parameters
  /// (SubParameters.h), sorted by name. Empty if ForwardOnly.
  std::vector<ParamGrad> Parameters;
  std::map<std::string, double> ActivationGradNorms; ///< with Activations
  std::vector<StepRecord> Steps;
  uint64_t PeakBytes = 0; ///< device memory high-water mark
  /// Wall time of each pass (forward, loss, backward), in seconds; not part
  /// of any deterministic output.
  std::vector<double> PassSeconds;
  // Context for reports.
  std::string Device;
  uint64_t Seed = 0;
  std::map<std::string, int64_t> Dims; ///< symbolic dimensions as bound
  int64_t Rows = 0, Vocab = 0;        ///< N, and V for ce
};

/// Runs the probe. M is loaded (loadModel); shapes are inferred here. Errors
/// (bad --input name or shape, unreadable files, unsupported ops, no CUDA
/// plugin) are one line each.
llvm::Expected<ProbeResult> runProbe(Model &M, const ProbeOptions &O);

} // namespace gradlint

#endif
