//===- QuadratureTest.cpp - the tables' quadrature rules -------------------===//
//
// Rule::forGaussians: Gaussian moments (closed forms) and the expectations
// the backward pass takes of activations' derivatives, against a dense
// trapezoid sum in x over the window where they live. Hermite nodes alone
// miss the latter by orders of magnitude once sd is wide (all nodes land
// where sigmoid is flat); the test asserts both.
//
//===----------------------------------------------------------------------===//
#include "Analysis/Analyzer.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

using namespace gradlint::analysis;

namespace {
double sigmoidD(double X) {
  double S = 1 / (1 + std::exp(-X));
  return S * (1 - S);
}
double tanhD(double X) {
  double T = std::tanh(X);
  return 1 - T * T;
}

/// E[g(x)], x ~ N(Mu, Sd²), by the rule's nodes for one feature.
double byRule(const Rule &R, int64_t F, double Mu, double Sd,
              const std::function<double(double)> &G) {
  double S = 0;
  for (size_t I = 0; I < R.NQ; ++I)
    S += R.w(F)[I] * G(Mu + Sd * R.z(F)[I]);
  return S;
}

/// E[g(x)] for a g that vanishes outside |x| < 40: trapezoid, step 1e-3.
double dense(double Mu, double Sd, const std::function<double(double)> &G) {
  const double H = 1e-3;
  double S = 0;
  for (double X = -40; X <= 40; X += H)
    S += G(X) * std::exp(-0.5 * (X - Mu) * (X - Mu) / (Sd * Sd));
  return S * H / (Sd * std::sqrt(2 * M_PI));
}
} // namespace

TEST_CASE("quadrature: Gaussian moments on every rule", "[analysis][quadrature]") {
  // Features 0–1 narrow (Hermite), 2–5 wide (composite), 6 wide but with the
  // window beyond 8 sd (Hermite).
  std::vector<double> Mu = {0, 3, 0, 40, -1e3, 0, 1e4};
  std::vector<double> Sd = {1, 1.5, 30, 30, 1e2, 1e4, 10};
  std::vector<double> Var;
  for (double S : Sd)
    Var.push_back(S * S);
  auto R = Rule::forGaussians(Mu, Var);
  REQUIRE(R->PerFeature);
  for (size_t F = 0; F < Mu.size(); ++F) {
    double M = Mu[F], S = Sd[F];
    INFO("mean " << M << " sd " << S);
    CHECK(byRule(*R, F, M, S, [](double) { return 1.0; }) == Approx(1).epsilon(1e-12));
    CHECK(byRule(*R, F, M, S, [](double X) { return X; }) ==
          Approx(M).epsilon(1e-7).margin(1e-7 * S));
    CHECK(byRule(*R, F, M, S, [](double X) { return X * X; }) ==
          Approx(M * M + S * S).epsilon(1e-7));
    CHECK(byRule(*R, F, M, S, [](double X) { return X * X * X * X; }) ==
          Approx(M * M * M * M + 6 * M * M * S * S + 3 * S * S * S * S).epsilon(1e-7));
  }
  // Without a wide feature, every feature shares the Hermite rule.
  CHECK(Rule::forGaussians({0, 1}, {1, 4}) == Rule::hermite());
}

TEST_CASE("quadrature: activations' derivatives under a wide Gaussian",
          "[analysis][quadrature]") {
  struct Case {
    double Mu, Sd;
  };
  for (Case C : {Case{0, 1}, Case{0, 5}, Case{0, 30}, Case{20, 30}, Case{-300, 100},
                 Case{0, 1e4}}) {
    auto R = Rule::forGaussians({C.Mu}, {C.Sd * C.Sd});
    for (auto [Name, G] : std::vector<std::pair<const char *, std::function<double(double)>>>{
             {"sigmoid'", sigmoidD},
             {"sigmoid'^2", [](double X) { return sigmoidD(X) * sigmoidD(X); }},
             {"tanh'^2", [](double X) { return tanhD(X) * tanhD(X); }}}) {
      INFO(Name << " mean " << C.Mu << " sd " << C.Sd);
      double Truth = dense(C.Mu, C.Sd, G);
      CHECK(byRule(*R, 0, C.Mu, C.Sd, G) == Approx(Truth).epsilon(2e-3));
      if (C.Sd >= 30) // Hermite alone is off by orders of magnitude
        CHECK(byRule(*Rule::hermite(), 0, C.Mu, C.Sd, G) < 0.01 * Truth);
    }
  }
}
