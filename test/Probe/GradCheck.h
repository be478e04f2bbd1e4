//===- GradCheck.h - probe gradients against finite differences -*- C++ -*-===//
//
// Each op family's test is a table of small graphs. For L = Σ r ⊙ y (r fixed,
// standard normal; y the first output) the probe's gradient g of every float
// initializer is compared with central differences of L along directions Δ
// (g itself, and two random ones): |L(W+Δ/2) − L(W−Δ/2) − ⟨g, Δ⟩| must be at
// most Tol·‖g‖·‖Δ‖ (default Tol 5e-3; ‖Δ‖ = 2e-2 per parameter tensor). The
// forward runs in float32 and L is summed in double. Initial values come
// from a domain that keeps Δ away from the kinks of non-smooth ops.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_TEST_PROBE_GRADCHECK_H
#define GRADLINT_TEST_PROBE_GRADCHECK_H

#include "OnnxBuilder.h"
#include <functional>
#include <string>
#include <vector>

namespace gradlint::test {

/// Where random initializer values are drawn.
enum class Domain {
  Normal,     ///< standard normal
  Positive,   ///< uniform in [0.5, 2]
  AwayFromZero, ///< |x| in [0.2, 2], either sign
  Unit,       ///< uniform in [-0.9, 0.9]
  Fraction,   ///< uniform in [0.1, 0.9] (no integer nearby: Ceil, Floor)
};

/// Adds a float initializer with values from D.
void param(OnnxBuilder &B, const std::string &Name,
           const std::vector<int64_t> &Shape, Domain D = Domain::Normal,
           unsigned Seed = 0);
/// Adds a bool initializer.
void boolInit(OnnxBuilder &B, const std::string &Name,
              const std::vector<int64_t> &Shape, const std::vector<bool> &Values);

/// Deterministic values for a test initializer.
std::vector<float> randomValues(const std::vector<int64_t> &Shape, Domain D,
                                unsigned Seed);

struct GradCase {
  std::string Name;
  /// Adds inputs-free nodes and initializers; the graph's output is "y".
  std::function<void(OnnxBuilder &)> Build;
  double Tol = 5e-3;
  int64_t Opset = 17;
  std::vector<std::pair<std::string, int64_t>> ExtraOpsets; ///< e.g. com.microsoft
  /// Float initializers that are constants of the op (masks, class weights):
  /// no gradient flows to them.
  std::vector<std::string> Constants;
};

/// Runs one case; returns "" when every parameter's gradient agrees, else a
/// description of the first disagreement. Parameters is filled with the
/// names of the initializers checked (every float one must have a gradient).
std::string checkGradients(const GradCase &C, std::vector<std::string> *Parameters = nullptr);

/// Runs a table, one Catch SECTION-free loop with a line per failure.
void checkTable(const std::vector<GradCase> &Cases);

} // namespace gradlint::test

#endif
