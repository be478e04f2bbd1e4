//===- GL101-vanishing-gradient.cpp - tests -------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("GL101: a parameter below 1e-3 of the largest is a warning",
          "[rules][GL101]") {
  RuleFixture F;
  F.param("head", {64, 128}, 1.4);
  F.param("w_q", {64, 64}, 1.4e-3 * 0.5, 3, "attention.q");
  auto Out = F.run("GL101");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Code == "GL101");
  CHECK(Out[0].Level == Severity::Warning);
  CHECK(Out[0].Parameter == "w_q");
  CHECK(Out[0].Block == 3);
  CHECK(
      Out[0].Message ==
      "gradient of block 3 attention.q 'w_q' is 5e-4 of the largest parameter "
      "gradient (7e-4 against 1.4 of 'head')");
  CHECK(*Out[0].Evidence.getNumber("ratio") == Approx(5e-4));
  CHECK(!Out[0].Remedies.empty());
}

TEST_CASE(
    "GL101: below 1e-6 of the largest, or flushed by float32, is an error",
    "[rules][GL101]") {
  RuleFixture F;
  F.param("head", {8, 8}, 1.0);
  F.param("tiny", {8, 8}, 5e-7);
  F.param("flushed", {8, 8}, 0.5).Fp32 = Float32Outcome::Underflow;
  auto Out = F.run("GL101");
  REQUIRE(Out.size() == 2);
  CHECK(Out[0].Parameter == "flushed");
  CHECK(Out[0].Level == Severity::Error);
  CHECK(Out[0].Remedies[0].find("exactly 0") != std::string::npos);
  CHECK(Out[1].Parameter == "tiny");
  CHECK(Out[1].Level == Severity::Error);
}

TEST_CASE(
    "GL101: healthy spreads, key biases and split parents are not reported",
    "[rules][GL101]") {
  RuleFixture F;
  F.param("head", {8, 8}, 1.0);
  F.param("ln", {8}, 2e-3);                           // above 1e-3
  F.param("key.bias", {8}, 0, 0, "attention.k.bias"); // exactly zero, always
  // A fused weight whose blocks are judged instead of it.
  F.param("qkv", {8, 24}, 1e-4, 0, "attention.qkv");
  F.param("qkv[q]", {8, 8}, 0.5, 0, "attention.q", "qkv");
  auto Out = F.run("GL101");
  CHECK(Out.empty());
}

TEST_CASE("GL101: the ratio is an option", "[rules][GL101]") {
  RuleFixture F;
  F.param("head", {8, 8}, 1.0);
  F.param("ln", {8}, 2e-3);
  F.option("GL101", "ratio", 1e-2);
  auto Out = F.run("GL101");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Parameter == "ln");
}
