//===- SoftmaxTieTest.cpp - saturated softmax: the near-tie Jacobian ------===//
//
// With Gaussian logits of large spread σ a softmax row is almost one-hot and
// its Jacobian J = diag(p) − ppᵀ lives only where the two largest logits
// nearly tie. The analysis takes E‖J‖_F² = g/3 there, g the density at 0 of
// the gap between the two largest logits. Checked against a closed form
// (two keys: g = 1/(√π σ)) and against direct Monte Carlo of the gap and of
// ‖J‖_F² itself.
//
//===----------------------------------------------------------------------===//
#include "Analysis/Analyzer.h"
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Shape/ShapeInference.h"
#include <catch2/catch.hpp>
#include <cmath>

using namespace gradlint;
using namespace gradlint::analysis;

namespace {
/// Monte Carlo of (density at 0 of the top-2 gap, E‖J‖_F²) for independent
/// Gaussian logits.
std::pair<double, double> monteCarlo(const std::vector<double> &Mean,
                                     const std::vector<double> &Sd,
                                     unsigned Samples, double Window) {
  Rng R(12345);
  size_t K = Mean.size();
  std::vector<double> L(K);
  double Near = 0, J2 = 0;
  for (unsigned S = 0; S < Samples; ++S) {
    double Top = -INFINITY, Second = -INFINITY;
    for (size_t I = 0; I < K; ++I) {
      L[I] = Mean[I] + Sd[I] * R.normal();
      if (L[I] > Top)
        Second = Top, Top = L[I];
      else if (L[I] > Second)
        Second = L[I];
    }
    Near += Top - Second < Window;
    double Sum = 0, P2 = 0, P3 = 0;
    for (double X : L)
      Sum += std::exp(X - Top);
    for (double X : L) {
      double P = std::exp(X - Top) / Sum;
      P2 += P * P;
      P3 += P * P * P;
    }
    J2 += P2 - 2 * P3 + P2 * P2;
  }
  return {Near / Samples / Window, J2 / Samples};
}
} // namespace

TEST_CASE("softmax ties: two keys, closed form", "[analysis][softmax]") {
  for (double Sigma : {3.0, 30.0, 300.0}) {
    std::vector<double> Mean = {0, 0}, Var = {Sigma * Sigma, Sigma * Sigma};
    double G = softmaxTieDensity(Mean.data(), Var.data(), 2);
    INFO("sigma " << Sigma);
    CHECK(G == Approx(1 / (std::sqrt(M_PI) * Sigma)).epsilon(2e-3));
  }
  std::vector<double> Mean = {0, 0}, Var = {1, 0};
  CHECK(softmaxTieDensity(Mean.data(), Var.data(), 2) == 0); // no density
}

TEST_CASE("softmax ties: gap density against Monte Carlo", "[analysis][softmax]") {
  // Eight keys, equal and unequal means.
  std::vector<double> Same(8, 0.0), Spread = {0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5};
  for (const auto *Mean : {&Same, &Spread}) {
    std::vector<double> Var(8, 1.0), Sd(8, 1.0);
    double G = softmaxTieDensity(Mean->data(), Var.data(), 8);
    auto [Gap, J2] = monteCarlo(*Mean, Sd, 1000000, 0.02);
    INFO("means from " << Mean->front() << " to " << Mean->back());
    CHECK(G == Approx(Gap).epsilon(0.03));
  }
}

TEST_CASE("softmax ties: E|J|^2 of saturated rows is g/3", "[analysis][softmax]") {
  for (size_t Keys : {2u, 8u}) {
    std::vector<double> Mean(Keys, 0.0), Var(Keys, 1600.0), Sd(Keys, 40.0);
    double G = softmaxTieDensity(Mean.data(), Var.data(), Keys);
    auto [Gap, J2] = monteCarlo(Mean, Sd, 1000000, 0.5);
    INFO(Keys << " keys, sigma 40: g " << G << ", Monte Carlo E|J|^2 " << J2);
    CHECK(G / 3 == Approx(J2).epsilon(0.05));
    // The analysis' Monte Carlo switches to the tie limit there.
    Rng R(7);
    SoftmaxStats S = softmaxMonteCarlo(Mean.data(), Var.data(), Keys, 256, R);
    CHECK(S.FromTies);
    CHECK(S.JF == Approx(G / 3).epsilon(1e-12));
    CHECK(S.MaxP > 0.9);
  }
  // Unsaturated rows keep the sampled value (σ = 1, eight keys).
  std::vector<double> Mean(8, 0.0), Var(8, 1.0), Sd(8, 1.0);
  Rng R(7);
  SoftmaxStats S = softmaxMonteCarlo(Mean.data(), Var.data(), 8, 4096, R);
  CHECK(!S.FromTies);
  auto [Gap, J2] = monteCarlo(Mean, Sd, 200000, 0.5);
  CHECK(S.JF == Approx(J2).epsilon(0.05));
}

TEST_CASE("softmax ties: the typical draw of rare ties", "[analysis][softmax]") {
  // Expected near-tie rows per draw Rows·g >= 1: the mean; below, scaled by it.
  CHECK(typicalTieJacobian(0.01, 1000) == Approx(0.01 / 3));
  CHECK(typicalTieJacobian(0.01, 10) == Approx(0.01 / 3 * 0.1));
  CHECK(typicalTieJacobian(0.0, 10) == 0);
}

// End to end: y = softmax(c·x) over 16 keys, c = 60, 64 rows, projection
// loss L = Σ r ⊙ y / 64. dL/dx = c·J·r/64 row by row, so
// E‖dL/dx‖² = c²·E‖J‖_F²/64 with r standard normal — E‖J‖_F² by direct
// Monte Carlo of the logits. 64 rows see ~2 near-ties per draw: the typical
// draw is the mean.
TEST_CASE("softmax ties: saturated softmax gradient end to end", "[analysis][softmax]") {
  const int64_t Rows = 64, Keys = 16;
  const double C = 60;
  std::string Dir = test::makeTempDir("softmax-ties");
  test::OnnxBuilder B;
  B.input("x", 1, {Rows, Keys})
      .constantFloat("c", {}, {float(C)})
      .node("Mul", {"x", "c"}, {"s"})
      .node("Softmax", {"s"}, {"y"}, {{"axis", int64_t(-1)}})
      .output("y");
  auto M = loadModel(B.writeTo(Dir + "/m.onnx"));
  std::system(("rm -rf '" + Dir + "'").c_str());
  REQUIRE(bool(M));
  REQUIRE(bool(inferShapes(**M, {})));
  auto R = analyze(**M);
  REQUIRE(bool(R));
  const Bound &X = R->Backward[(*M)->G.findValue("x")].Norm;
  std::vector<double> Mean(Keys, 0.0), Sd(Keys, C);
  auto [Gap, J2] = monteCarlo(Mean, Sd, 400000, 0.5);
  double Truth = std::sqrt(C * C * J2 / Rows);
  INFO("est " << X.Est << " [" << X.Lo << ", " << X.Hi << "], Monte Carlo " << Truth);
  CHECK(X.Est == Approx(Truth).epsilon(0.15));
  CHECK(Truth >= X.Lo);
  CHECK(Truth <= X.Hi);
}
