//===- GL104-exploding-gradient.cpp - tests -------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

/// N blocks chained by residual streams; the gradient at the output of block
/// i is Out[i], at its input In[i].
static RuleFixture stack(const std::vector<double> &Grads) {
  RuleFixture F;
  ValueId Prev = F.gradValue("stream0", Grads[0]);
  for (size_t I = 1; I < Grads.size(); ++I) {
    ValueId Next = F.gradValue("stream" + std::to_string(I), Grads[I]);
    BlockInfo &B = F.block();
    ResidualInfo R;
    R.Skip = Prev;
    R.Output = Next;
    B.Residuals.push_back(R);
    Prev = Next;
  }
  return F;
}

TEST_CASE("GL104: a stream gradient doubling per block is geometric growth",
          "[rules][GL104]") {
  RuleFixture F = stack({0.16, 0.08, 0.04, 0.02, 0.01});
  auto Out = F.run("GL104");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Block == 0);
  CHECK(Out[0].Message ==
        "gradient of the residual stream grows 16x from the output "
        "of block 3 to the input of block 0 (2x per block)");
  CHECK(*Out[0].Evidence.getNumber("gain_per_block") == Approx(2.0));
  // GPT-2's residual scaling for 4 blocks: 1/sqrt(8).
  CHECK(Out[0].Remedies[0].find("1/sqrt(2N) = 0.354 for N = 4") !=
        std::string::npos);
}

TEST_CASE("GL104: a flat or shrinking stream is not reported",
          "[rules][GL104]") {
  CHECK(stack({0.011, 0.0105, 0.0102, 0.01}).run("GL104").empty());
  CHECK(stack({0.001, 0.01, 0.1, 1.0}).run("GL104").empty());
  // Growth, but over fewer blocks than min-blocks.
  CHECK(stack({0.04, 0.02, 0.01}).run("GL104").empty());
}

TEST_CASE("GL104: a parameter 70x above its counterpart in the last block",
          "[rules][GL104]") {
  RuleFixture F;
  for (int I = 0; I < 4; ++I)
    F.block();
  F.param("up0", {8, 32}, 100, 0, "ffn.up");
  F.param("up1", {8, 32}, 50, 1, "ffn.up");
  F.param("up2", {8, 32}, 2, 2, "ffn.up");
  F.param("up3", {8, 32}, 1, 3, "ffn.up");
  auto Out = F.run("GL104");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Parameter == "up0");
  CHECK(Out[0].Block == 0);
  CHECK(Out[0].Level == Severity::Warning);
  CHECK(Out[0].Message ==
        "gradient of block 0 ffn.up 'up0' is 100x that of the same "
        "parameter in block 3 (100 against 1)");
  F.option("GL104", "ratio", 40);
  CHECK(F.run("GL104").size() == 2);
}
