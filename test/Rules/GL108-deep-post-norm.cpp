//===- GL108-deep-post-norm.cpp - tests -----------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

static RuleFixture stack(unsigned N, NormPlacement P) {
  RuleFixture F;
  for (unsigned I = 0; I < N; ++I)
    F.block(P);
  return F;
}

TEST_CASE("GL108: DeepNorm constants for a 24-block post-norm stack",
          "[rules][GL108]") {
  RuleFixture F = stack(24, NormPlacement::Post);
  auto Out = F.run("GL108");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Block == 0);
  // alpha = (2N)^(1/4), beta = (8N)^(-1/4) for N = 24 (Wang et al. 2022).
  CHECK(*Out[0].Evidence.getNumber("deepnorm_alpha") ==
        Approx(std::pow(48.0, 0.25)));
  CHECK(*Out[0].Evidence.getNumber("deepnorm_beta") ==
        Approx(std::pow(192.0, -0.25)));
  CHECK(Out[0].Remedies[0].find("LN(2.63 * x + f(x))") != std::string::npos);
  CHECK(Out[0].Remedies[0].find("= 0.269") != std::string::npos);
  CHECK(Out[0].Remedies.size() == 3); // DeepNorm, pre-norm, warmup
}

TEST_CASE("GL108: 12 post-norm blocks or deep pre-norm stacks pass",
          "[rules][GL108]") {
  CHECK(stack(12, NormPlacement::Post).run("GL108").empty());
  CHECK(stack(48, NormPlacement::Pre).run("GL108").empty());
  RuleFixture F = stack(12, NormPlacement::Post);
  F.option("GL108", "min-blocks", 6);
  CHECK(F.run("GL108").size() == 1);
}
