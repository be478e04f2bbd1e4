//===- RandomTest.cpp - the shared generator ------------------------------===//
#include "gradlint/Support/Random.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

using namespace gradlint;

TEST_CASE("same seed, same stream; different seeds differ", "[support]") {
  Rng A(7), B(7), C(8);
  bool Differs = false;
  for (int I = 0; I < 100; ++I) {
    uint64_t X = A.next();
    CHECK(X == B.next());
    Differs |= X != C.next();
  }
  CHECK(Differs);
}

TEST_CASE("normal draws have the moments of N(0,1)", "[support]") {
  // With n = 200000 the standard errors are ~0.0022 (mean), ~0.0032 (var),
  // ~0.011 (fourth moment 3); the bounds are five of those.
  Rng R(1);
  const int N = 200000;
  double S1 = 0, S2 = 0, S4 = 0;
  for (int I = 0; I < N; ++I) {
    double X = R.normal();
    S1 += X;
    S2 += X * X;
    S4 += X * X * X * X;
  }
  CHECK(std::fabs(S1 / N) < 0.011);
  CHECK(std::fabs(S2 / N - 1) < 0.016);
  CHECK(std::fabs(S4 / N - 3) < 0.055);
}

TEST_CASE("below(n) is uniform (chi-square)", "[support]") {
  Rng R(3);
  const int K = 10, N = 100000;
  std::vector<int> Counts(K, 0);
  for (int I = 0; I < N; ++I) {
    uint64_t V = R.below(K);
    REQUIRE(V < uint64_t(K));
    ++Counts[V];
  }
  double Chi = 0, E = double(N) / K;
  for (int C : Counts)
    Chi += (C - E) * (C - E) / E;
  // 9 degrees of freedom: P(chi2 > 27.9) = 0.001.
  CHECK(Chi < 27.9);
}
