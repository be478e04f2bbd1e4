//===- GL105-low-precision-underflow.cpp - tests --------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

/// A parameter whose gradient elements have RMS Rms.
static void paramWithRms(RuleFixture &F, const std::string &Name, int64_t N,
                         double Rms) {
  F.param(Name, {N}, Rms * std::sqrt(double(N)));
}

TEST_CASE("GL105: fp32 training is never reported", "[rules][GL105]") {
  RuleFixture F;
  paramWithRms(F, "w", 1024, 1e-6);
  CHECK(F.run("GL105").empty());
}

TEST_CASE("GL105: fp16 needs the smallest loss scale that lifts the gradients",
          "[rules][GL105]") {
  RuleFixture F;
  F.Precision = PrecisionKind::FP16;
  paramWithRms(F, "w", 1024, 1e-6);
  auto Out = F.run("GL105");
  REQUIRE(Out.size() == 1);
  const Finding &G = Out[0];
  CHECK(G.Level == Severity::Warning);
  // Share below 6.1e-5 of N(0, 1e-12): erf(6.1e-5 / (1e-6 sqrt 2)) = 1.
  CHECK(*G.Evidence.getNumber("share_below_normal") == Approx(1.0));
  // Share below 5.96e-8: erf(5.96e-8 / (1e-6 sqrt 2)) = 0.0475.
  CHECK(*G.Evidence.getNumber("share_below_subnormal") ==
        Approx(std::erf(5.9604644775390625e-8 / (1e-6 * std::sqrt(2.0)))));
  // Below 1% at 2^k needs erf(6.1e-5 / (2^k 1e-6 sqrt 2)) < 0.01, that is
  // 2^k > 6.1e-5 / (0.0088625 * 1.4142 * 1e-6) = 4870: k = 13.
  CHECK(*G.Evidence.getInteger("loss_scale_exponent") == 13);
  CHECK(G.Remedies[0].rfind("scale the loss by 2^13 = 8192", 0) == 0);
  CHECK(G.Parameter == "w");
}

TEST_CASE("GL105: gradients wider than fp16's range fit no static scale",
          "[rules][GL105]") {
  RuleFixture F;
  F.Precision = PrecisionKind::FP16;
  paramWithRms(F, "small", 4096, 1e-9);
  paramWithRms(F, "large", 1024, 1e3); // largest element about 3.7e3
  auto Out = F.run("GL105");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Level == Severity::Error);
  CHECK(*Out[0].Evidence.getInteger("max_loss_scale_exponent") == 4);
  CHECK(Out[0].Remedies[0].rfind("no static loss scale fits", 0) == 0);
}

TEST_CASE("GL105: bf16 keeps float32's range; fp16 weights imply fp16",
          "[rules][GL105]") {
  RuleFixture F;
  F.Precision = PrecisionKind::BF16;
  paramWithRms(F, "w", 1024, 1e-6);
  CHECK(F.run("GL105").empty());

  RuleFixture H;
  paramWithRms(H, "w", 1024, 1e-6);
  H.A.Parameters[0].Value = H.addValue("w", DataType::Float16);
  CHECK(H.run("GL105").size() == 1);
}

TEST_CASE("GL105: gradients comfortably inside fp16 are not reported",
          "[rules][GL105]") {
  RuleFixture F;
  F.Precision = PrecisionKind::FP16;
  paramWithRms(F, "w", 1024, 0.1);
  CHECK(F.run("GL105").empty());
}
