//===- GL107-missing-normalization.cpp - tests ----------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("GL107: blocks without any norm", "[rules][GL107]") {
  RuleFixture F;
  ValueId In = F.addValue("x"), Out = F.addValue("y");
  F.A.Forward[In] = gaussian(0, 1);
  F.A.Forward[Out] = gaussian(0, 9); // RMS 3
  for (int I = 0; I < 4; ++I) {
    BlockInfo &B = F.block(NormPlacement::None);
    B.Residuals.resize(2);
    B.Residuals[0].Skip = I == 0 ? In : NoId;
    B.Residuals[1].Output = I == 3 ? Out : NoId;
  }
  auto Found = F.run("GL107");
  REQUIRE(Found.size() == 1);
  CHECK(Found[0].Message == "blocks 0-3 of 4 have no normalization");
  CHECK(*Found[0].Evidence.getNumber("stream_rms_growth") == Approx(3.0));
}

TEST_CASE("GL107: normalized or single blocks pass", "[rules][GL107]") {
  RuleFixture F;
  for (int I = 0; I < 4; ++I)
    F.block(NormPlacement::Pre).Norms.resize(2);
  CHECK(F.run("GL107").empty());
  RuleFixture One;
  One.block(NormPlacement::None);
  CHECK(One.run("GL107").empty());
}
