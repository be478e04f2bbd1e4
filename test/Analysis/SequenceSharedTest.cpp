//===- SequenceSharedTest.cpp - what a sequence's tokens share ------------===//
//
// ValueSummary::SequenceShared: the share of a value's variance common to
// the tokens of one sequence. Elementwise maps carry it by Mehler's formula
// (closed forms below: x, x² and relu's arc-cosine kernel); attention
// creates it by averaging tokens, checked against the probe's forward pass
// (the within-sequence variance it measures) on a model without residuals.
//
//===----------------------------------------------------------------------===//
#include "Analysis/Analyzer.h"
#include "MeasuredZoo.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

using namespace gradlint;
using namespace gradlint::analysis;
using namespace gradlint::test;

namespace {
std::vector<double> tabulate(double (*F)(double)) {
  std::vector<double> V;
  for (double Z : Quadrature::get().Z)
    V.push_back(F(Z));
  return V;
}

double mehler(const std::vector<double> &Val, double Rho) {
  const Quadrature &Q = Quadrature::get();
  return mehlerCorrelation(Val.data(), Q.Z.data(), Q.W.data(), Q.Z.size(), Rho);
}
} // namespace

TEST_CASE("sequence shared: Mehler's formula, closed forms", "[analysis][shared]") {
  std::vector<double> Lin = tabulate([](double X) { return 2 * X + 1; });
  std::vector<double> Sq = tabulate([](double X) { return X * X; });
  std::vector<double> Relu = tabulate([](double X) { return X > 0 ? X : 0.0; });
  for (double Rho : {0.1, 0.5, 0.9}) {
    INFO("rho " << Rho);
    CHECK(mehler(Lin, Rho) == Approx(Rho).epsilon(1e-9));
    CHECK(mehler(Sq, Rho) == Approx(Rho * Rho).epsilon(1e-9));
    // relu of correlated standard normals (Cho & Saul's arc-cosine kernel):
    // E[relu X relu Y] = (√(1−ρ²) + (π − acos ρ) ρ) / 2π, E relu = 1/√(2π).
    double Cov = (std::sqrt(1 - Rho * Rho) + (M_PI - std::acos(Rho)) * Rho) / (2 * M_PI) -
                 1 / (2 * M_PI);
    double Var = 0.5 - 1 / (2 * M_PI);
    // relu's kink makes its Hermite tail slow: 24 nodes, 12 terms.
    CHECK(mehler(Relu, Rho) == Approx(Cov / Var).margin(0.02));
  }
  CHECK(mehler(Relu, 0) == 0);
  CHECK(mehler(Relu, 1) == 1);
}

TEST_CASE("zoo: attention makes a sequence's tokens share what it averages",
          "[zoo][analysis][shared]") {
  MeasuredModel Z = measureZooModel("gpt_L6_noresidual");
  // Block 0's merged context: V's tokens are independent, the causal
  // average makes ~30 % of the context's variance common to the sequence.
  ValueId Ctx = Z.M->G.findValue("/h.0/attn/Reshape_3_output_0");
  REQUIRE(Ctx != NoId);
  double Var = 0, Within = 0;
  for (double X : Z.Measured->Values.at(Ctx).Var)
    Var += X;
  for (double X : Z.Measured->SequenceVar.at(Ctx))
    Within += X;
  double Measured = 1 - Within / Var, Predicted = Z.Static.Forward[Ctx].SequenceShared;
  INFO("shared: predicted " << Predicted << ", measured " << Measured);
  CHECK(Predicted > 0.15);
  CHECK(std::fabs(Predicted - Measured) <= 0.05);
}
