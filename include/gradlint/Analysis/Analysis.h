//===- Analysis.h - predicted gradient norms --------------------*- C++ -*-===//
//
// The heart of gradlint (DESIGN §3): forward summaries of every float value,
// backward bounds on ‖dL/dt‖ for the reference loss, and from them lo/est/hi
// of every parameter's gradient norm. No training, no real inputs: summaries
// come from the input distributions and the real initializer values.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_ANALYSIS_ANALYSIS_H
#define GRADLINT_ANALYSIS_ANALYSIS_H

#include "gradlint/IR/Graph.h"
#include "gradlint/Reference/Reference.h"
#include <limits>
#include <map>
#include <memory>
#include <vector>

namespace gradlint {

constexpr double Infinity = std::numeric_limits<double>::infinity();

/// A predicted norm: `Est` is what the probe should measure; the probe's
/// measurement should fall in [Lo, Hi] (a prediction interval, DESIGN §3).
struct Bound {
  double Lo = 0;
  double Est = 0;
  double Hi = Infinity;
};

/// What float32 training will see of a gradient predicted exactly as Est.
enum class Float32Outcome {
  Normal,    ///< representable; the probe measures about Est
  Underflow, ///< per-element values below ~1e-38 (subnormal) or 4e-24 (flush): the probe sees 0
  Noise,     ///< so small against its inputs that rounding residue dominates
};

/// Forward summary of one float value, split into a token-mean (coherent)
/// part and a token-varying part along its last axis (the features).
struct ValueSummary {
  int64_t Rows = 0;     ///< product of all dims but the last
  int64_t Features = 0; ///< last dim (1 for scalars)
  std::vector<double> Mean; ///< per feature: mean over rows
  std::vector<double> Var;  ///< per feature: variance over rows
  double Min = -Infinity, Max = Infinity; ///< interval over all elements
  /// Share of Var (pooled over features) that the tokens of one sequence
  /// have in common, random per sequence (set in AnalysisResult::Forward).
  double SequenceShared = 0;
  double meanSquare() const; ///< E x² over all elements
};

/// Backward summary of dL/d(value): energies of the coherent and varying
/// parts (their sum is ‖g‖²) and the bound on ‖g‖.
struct GradSummary {
  double Coherent = 0; ///< N · ‖mean over rows of g‖²
  double Varying = 0;  ///< Σ_rows ‖g_row − mean‖²
  Bound Norm;
  bool Reached = false; ///< a differentiable path from the loss reaches it
};

struct ParameterPrediction {
  std::string Name;      ///< initializer name, or "NAME[q]" for a sub-parameter
  Dims Shape;
  std::string Parent;    ///< for a sub-parameter: the initializer's name
  ValueId Value = NoId;  ///< the initializer
  Bound GradNorm;
  double Lipschitz = Infinity; ///< worst case over the interval domain, when known
  double WeightNorm = 0;   ///< Frobenius norm of the (sub-)parameter
  double SpectralNorm = 0; ///< largest singular value (2-D weights)
  Float32Outcome Fp32 = Float32Outcome::Normal;
  NodeId Consumer = NoId;  ///< the node that uses it (first, in order)
};

/// Facts about a node that rules and reports read.
struct NodeFacts {
  NodeId Node = NoId;
  double SoftmaxMaxProb = 0; ///< mean over rows of max p (Softmax)
  double SoftmaxSumP2 = 0;   ///< mean over rows of Σ p² (Softmax)
  double SoftmaxLogitStd = 0;
  double SaturatedShare = 0; ///< P(|x| ≥ 5) of the input (Sigmoid, Tanh)
  double InactiveShare = 0;  ///< P(x ≤ 0) of the input (Relu)
  double NormInputVar = 0;   ///< mean variance over the normalized axis (norms)
  double NormEpsilon = 0;
  double Gain = 0;           ///< ‖g_in‖ / ‖g_out‖ (est) through this node
};

/// Forward statistics measured on synthetic inputs drawn as DESIGN §3 says
/// (`check --calibrate`: the probe's forward pass, no backward). Where a
/// value has them they replace the static forward summary; softmax rows
/// replace the Monte Carlo over Gaussian logits (saturated attention is
/// where that assumption fails most). Summaries use the analysis' layout:
/// the last axis is the feature axis, every other element a row.
struct Calibration {
  std::map<ValueId, ValueSummary> Values;
  /// Per softmax output value: per query row (the axis before the last),
  /// means over the leading dimensions and the passes.
  struct SoftmaxRows {
    std::vector<double> SumP2, SumP3, MaxP; ///< per query row
    std::vector<double> JF; ///< per query row: E‖diag(p) − ppᵀ‖_F²
    std::vector<double> ColSum;             ///< per key: Σ_rows E[p]
  };
  std::map<ValueId, SoftmaxRows> Softmax;
  /// Per value of rank >= 3: per feature, the variance along the sequence
  /// axis (the one before the features) within each leading slice (batch,
  /// head), averaged over slices — how far one attention row's keys and
  /// values spread. Below the pooled variance where tokens of a sequence
  /// collapse towards each other.
  std::map<ValueId, std::vector<double>> SequenceVar;
  unsigned Passes = 0; ///< forward passes pooled (seeds)
};

struct AnalysisOptions {
  const LossKind *ForcedLoss = nullptr;
  uint64_t Seed = 0; ///< seeds the Monte Carlo tables (and --calibrate inputs)
  /// Measured forward statistics (null: the default, fully static analysis).
  std::shared_ptr<const Calibration> Calibrated;
};

struct AnalysisResult {
  ReferenceSetup Setup;
  /// Every float initializer a differentiable path reaches, then the
  /// sub-parameters, sorted by name.
  std::vector<ParameterPrediction> Parameters;
  /// Per value (indexed by ValueId): forward and backward summaries.
  std::vector<ValueSummary> Forward;
  std::vector<GradSummary> Backward;
  std::vector<NodeFacts> Facts; ///< per NodeId
  std::vector<std::string> UnknownOps; ///< op types analysed as pass-through
  double Coverage = 1; ///< share of float-carrying nodes with a transfer rule
  /// With AnalysisOptions::Calibrated: the passes it pooled, and how many
  /// values and softmax rows the measurements replaced.
  unsigned CalibrationPasses = 0, CalibratedValues = 0, CalibratedSoftmax = 0;
};

llvm::Expected<AnalysisResult> analyze(const Model &M,
                                       const AnalysisOptions &Opts = {});

} // namespace gradlint

#endif
