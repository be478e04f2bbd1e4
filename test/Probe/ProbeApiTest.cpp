//===- ProbeApiTest.cpp - runProbe: hooks, steps, sub-parameters, memory --===//
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Probe/Probe.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

using namespace gradlint;
using namespace gradlint::test;

namespace {
std::unique_ptr<Model> tinyGpt() {
  auto M = loadModel(std::string(GRADLINT_SOURCE_DIR) + "/examples/tiny-gpt.onnx");
  REQUIRE(bool(M));
  return std::move(*M);
}

ProbeOptions options() {
  ProbeOptions O;
  O.Dims = {{"batch", 2}, {"sequence", 8}};
  return O;
}
} // namespace

TEST_CASE("probe api: forward-only hook sees every float activation",
          "[probe]") {
  auto M = tinyGpt();
  ProbeOptions O = options();
  O.ForwardOnly = true;
  std::set<ValueId> Seen;
  bool Finite = true;
  O.OnForwardValue = [&](ValueId V, const float *D, llvm::ArrayRef<int64_t> S) {
    Seen.insert(V);
    int64_t N = 1;
    for (int64_t X : S)
      N *= X;
    for (int64_t I = 0; I < N; ++I)
      Finite &= std::isfinite(D[I]) || std::isinf(D[I]); // masked logits are -inf
  };
  auto R = runProbe(*M, O);
  REQUIRE(bool(R));
  CHECK(R->Parameters.empty());
  CHECK(R->Loss0 > 0);
  CHECK(Finite);
  CHECK(Seen.count(M->G.Outputs[0]));
  CHECK(Seen.size() > 50);
  for (ValueId V : Seen)
    CHECK(M->G.Values[V].Initializer < 0);
}

TEST_CASE("probe api: sub-parameters partition their weight's gradient",
          "[probe]") {
  auto M = tinyGpt();
  auto R = runProbe(*M, options());
  REQUIRE(bool(R));
  std::map<std::string, double> Sq;
  std::map<std::string, double> Whole;
  for (const ParamGrad &P : R->Parameters) {
    if (P.Parent.empty())
      Whole[P.Name] = P.GradNorm;
    else
      Sq[P.Parent] += P.GradNorm * P.GradNorm;
  }
  REQUIRE(!Sq.empty());
  for (const auto &[Parent, S] : Sq)
    CHECK(std::sqrt(S) == Approx(Whole.at(Parent)).epsilon(1e-6));
  CHECK(R->PeakBytes > 0);
}

TEST_CASE("probe api: an SGD step moves each weight by lr times its gradient",
          "[probe]") {
  auto M = tinyGpt();
  ProbeOptions O = options();
  O.Steps = 1;
  O.LearningRate = 0.05;
  auto R = runProbe(*M, O);
  REQUIRE(bool(R));
  REQUIRE(R->Steps.size() == 1);
  CHECK(R->Steps[0].Loss < R->Loss0); // a small step downhill
  // ‖ΔW‖/‖W‖ = lr ‖g‖ / ‖W‖ for SGD.
  std::map<std::string, double> G;
  for (const ParamGrad &P : R->Parameters)
    G[P.Name] = P.GradNorm;
  for (const auto &[Name, Ratio] : R->Steps[0].UpdateRatios) {
    const TensorData &T = M->G.Tensors[M->G.Values[M->G.findValue(Name)].Initializer];
    std::vector<double> W;
    REQUIRE(T.toDoubles(W));
    double WN = 0;
    for (double X : W)
      WN += X * X;
    if (WN == 0) // a zero weight (biases at init): the ratio is infinite
      CHECK((std::isinf(Ratio) || G.at(Name) == 0));
    else
      CHECK(Ratio == Approx(0.05 * G.at(Name) / std::sqrt(WN)).epsilon(1e-4));
  }
}

TEST_CASE("probe api: Adam steps and activation gradients", "[probe]") {
  auto M = tinyGpt();
  ProbeOptions O = options();
  O.Steps = 3;
  O.Optimizer = OptimizerKind::Adam;
  O.LearningRate = 1e-2;
  O.Activations = true;
  auto R = runProbe(*M, O);
  REQUIRE(bool(R));
  REQUIRE(R->Steps.size() == 3);
  CHECK(R->Steps[2].Loss < R->Loss0);
  // Adam's first update is lr·g/(|g| + eps) per element: ‖ΔW‖ ≈ lr·sqrt(n)
  // where no element's gradient is 0 (the lm_head, the last MatMul weight).
  const Node *Head = nullptr;
  for (const Node &N : M->G.Nodes)
    if (N.Kind == OpKind::MatMul && M->G.initializer(N.input(1)))
      Head = &N;
  REQUIRE(Head);
  const TensorData &W = *M->G.initializer(Head->input(1));
  std::vector<double> V;
  REQUIRE(W.toDoubles(V));
  double WN = 0;
  for (double X : V)
    WN += X * X;
  double Ratio = 0;
  for (const auto &[Name, R0] : R->Steps[0].UpdateRatios)
    if (Name == W.Name)
      Ratio = R0;
  CHECK(Ratio * std::sqrt(WN) == Approx(1e-2 * std::sqrt(double(V.size()))).epsilon(1e-3));
  CHECK(!R->ActivationGradNorms.empty());
  CHECK(R->ActivationGradNorms.count(M->G.Values[M->G.Outputs[0]].Name));
}

TEST_CASE("probe api: results do not depend on the thread count", "[probe]") {
  // Large enough that the elementwise, reduction and GEMM work is split.
  ProbeOptions O;
  O.Dims = {{"batch", 16}, {"sequence", 64}};
  O.Steps = 1;
  std::vector<std::vector<double>> Norms;
  for (unsigned Threads : {1u, 2u, 3u}) {
    auto M = tinyGpt();
    O.Threads = Threads;
    auto R = runProbe(*M, O);
    REQUIRE(bool(R));
    std::vector<double> N = {R->Loss0, R->Steps[0].Loss};
    for (const ParamGrad &P : R->Parameters)
      N.push_back(P.GradNorm);
    Norms.push_back(N);
  }
  CHECK(Norms[0] == Norms[1]);
  CHECK(Norms[0] == Norms[2]);
}

TEST_CASE("probe api: the CPU backend keeps to its memory budget", "[probe]") {
  // Linux overcommits, so past the budget allocate() must say no itself.
  using namespace gradlint::probe;
  auto B = createCPUBackend(1, 1 << 20);
  const uint64_t K = 1024;
  auto A1 = B->allocate(600 * K);
  REQUIRE(bool(A1));
  auto A2 = B->allocate(600 * K);
  REQUIRE(!A2);
  CHECK(llvm::toString(A2.takeError()).find("budget of 1 MiB") != std::string::npos);
  B->release(*A1);
  auto A3 = B->allocate(600 * K); // the freed block, reused
  REQUIRE(bool(A3));
  auto A4 = B->allocate(300 * K);
  REQUIRE(bool(A4));
  auto A5 = B->allocate(200 * K);
  CHECK(!A5);
  llvm::consumeError(A5.takeError());
  B->release(*A4);
  // 350 KiB fits no cached block; freeing the cached 300 KiB makes room.
  auto A6 = B->allocate(350 * K);
  REQUIRE(bool(A6));
  B->release(*A3);
  B->release(*A6);
}
