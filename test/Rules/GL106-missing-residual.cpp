//===- GL106-missing-residual.cpp - tests ---------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

/// N transformer blocks (attention and feed-forward), each with R residuals.
static RuleFixture blocks(unsigned N, unsigned Residuals) {
  RuleFixture F;
  for (unsigned I = 0; I < N; ++I) {
    BlockInfo &B = F.block();
    B.Attention = AttentionInfo();
    B.Attention->Softmax =
        F.addNode("/h." + std::to_string(I) + "/attn/Softmax", OpKind::Softmax);
    B.Ffn = FfnInfo();
    B.Residuals.resize(Residuals);
  }
  return F;
}

TEST_CASE("GL106: a deep stack without residuals", "[rules][GL106]") {
  RuleFixture F = blocks(6, 0);
  auto Out = F.run("GL106");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Message == "blocks 0-5 of 6 have no residual connections");
  CHECK(Out[0].Block == 0);
  CHECK(Out[0].Node == "/h.0/attn/Softmax");
  CHECK(*Out[0].Evidence.getInteger("residuals") == 0);
}

TEST_CASE("GL106: one block missing a residual is named", "[rules][GL106]") {
  RuleFixture F = blocks(6, 2);
  F.S.Blocks[2].Residuals.resize(1);
  auto Out = F.run("GL106");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Block == 2);
  CHECK(Out[0].Message ==
        "block 2 lacks residual connections around 1 of 12 sublayers");
}

TEST_CASE("GL106: residual stacks and shallow stacks pass", "[rules][GL106]") {
  CHECK(blocks(12, 2).run("GL106").empty());
  CHECK(blocks(3, 0).run("GL106").empty()); // below min-blocks
  RuleFixture F = blocks(3, 0);
  F.option("GL106", "min-blocks", 2);
  CHECK(F.run("GL106").size() == 1);
}
