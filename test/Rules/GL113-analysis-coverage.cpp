//===- GL113-analysis-coverage.cpp - tests --------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

static RuleFixture withUnknown(double Coverage) {
  RuleFixture F;
  F.addNode("/a/MatMul", OpKind::MatMul);
  F.addNode("/b/FancyNorm", OpKind::Unknown, "FancyNorm");
  F.addNode("/c/FancyNorm", OpKind::Unknown, "FancyNorm");
  F.A.UnknownOps = {"FancyNorm"};
  F.A.Coverage = Coverage;
  return F;
}

TEST_CASE("GL113: an unknown op is a note naming its first node",
          "[rules][GL113]") {
  RuleFixture F = withUnknown(0.95);
  auto Out = F.run("GL113");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Level == Severity::Note);
  CHECK(Out[0].Node == "/b/FancyNorm");
  CHECK(Out[0].Message ==
        "gradlint has no gradient rule for FancyNorm (2 nodes); "
        "95% of the float-carrying nodes are analysed");
}

TEST_CASE("GL113: low coverage is a warning; full coverage is silent",
          "[rules][GL113]") {
  auto Out = withUnknown(0.5).run("GL113");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Level == Severity::Warning);
  RuleFixture Full;
  Full.addNode("/a/MatMul", OpKind::MatMul);
  CHECK(Full.run("GL113").empty());
}
