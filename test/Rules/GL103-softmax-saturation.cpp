//===- GL103-softmax-saturation.cpp - tests -------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

/// Eight blocks; block 7's attention has the given softmax max-prob and
/// query, key and value gradients.
static RuleFixture saturated(double MaxProb, double QK, double V) {
  RuleFixture F;
  for (int I = 0; I < 8; ++I)
    F.block();
  AttentionInfo At;
  At.HeadDim = 64;
  At.Scale = 1;
  At.Softmax = F.addNode("/h.7/attn/Softmax", OpKind::Softmax);
  F.A.Facts[At.Softmax].SoftmaxMaxProb = MaxProb;
  F.A.Facts[At.Softmax].SoftmaxLogitStd = 12;
  F.S.Blocks[7].Attention = At;
  F.param("c_attn[q]", {64, 64}, QK, 7, "attention.q", "c_attn");
  F.param("c_attn[k]", {64, 64}, QK, 7, "attention.k", "c_attn");
  F.param("c_attn[v]", {64, 64}, V, 7, "attention.v", "c_attn");
  return F;
}

TEST_CASE("GL103: collapsed attention starves queries and keys",
          "[rules][GL103]") {
  RuleFixture F = saturated(0.998, 3.1e-6, 1.0);
  auto Out = F.run("GL103");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Message ==
        "query/key gradient of block 7 is 3.1e-6 of the value "
        "gradient (softmax max-prob 0.998)");
  CHECK(Out[0].Block == 7);
  CHECK(Out[0].Node == "/h.7/attn/Softmax");
  CHECK(*Out[0].Evidence.getNumber("query_key_to_value") == Approx(3.1e-6));
  // Scale 1 with d_head 64: the remedy names the right factor.
  CHECK(Out[0].Remedies[0] ==
        "scale the logits by 1/sqrt(d_head) = 0.125 instead "
        "of 1 (GL102)");
}

TEST_CASE("GL103: saturation with large query/key gradients says so",
          "[rules][GL103]") {
  RuleFixture F = saturated(0.96, 2.0, 1.0);
  auto Out = F.run("GL103");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Message ==
        "attention of block 7 is saturated (softmax max-prob 0.96; "
        "query/key gradient 2 of the value gradient)");
}

TEST_CASE("GL103: attention below the threshold is not reported",
          "[rules][GL103]") {
  RuleFixture F = saturated(0.21, 0.01, 0.05);
  CHECK(F.run("GL103").empty());
  F.option("GL103", "max-prob", 0.2);
  CHECK(F.run("GL103").size() == 1);
}
