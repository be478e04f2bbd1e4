//===- GL102-unscaled-attention-logits.cpp - tests ------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

static AttentionInfo attention(RuleFixture &F, double Scale, int64_t HeadDim) {
  AttentionInfo At;
  At.Heads = 4;
  At.HeadDim = HeadDim;
  At.Scale = Scale;
  At.Scores = F.addNode("/h.0/attn/MatMul", OpKind::MatMul);
  At.Softmax = F.addNode("/h.0/attn/Softmax", OpKind::Softmax);
  return At;
}

TEST_CASE("GL102: unscaled logits are 8x too large for d_head 64",
          "[rules][GL102]") {
  RuleFixture F;
  F.block().Attention = attention(F, 1.0, 64);
  auto Out = F.run("GL102");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Level == Severity::Warning);
  CHECK(Out[0].Block == 0);
  CHECK(Out[0].Node == "/h.0/attn/MatMul");
  CHECK(Out[0].Message ==
        "attention logits of block 0 are scaled by 1 instead of "
        "1/sqrt(d_head) = 0.125 (d_head 64): 8x too large");
  CHECK(Out[0].Remedies[0].find("multiply the logits by 0.125") !=
        std::string::npos);
}

TEST_CASE("GL102: 1/sqrt(d_head), and factors within the tolerance, pass",
          "[rules][GL102]") {
  RuleFixture F;
  F.block().Attention = attention(F, 1 / std::sqrt(64.0), 64);
  F.block().Attention = attention(F, 1.5 / std::sqrt(16.0), 16);
  AttentionInfo Unknown = attention(F, 1.0, 64);
  Unknown.ScaleKnown = false;
  F.block().Attention = Unknown;
  F.block(); // no attention at all
  CHECK(F.run("GL102").empty());
}

TEST_CASE("GL102: too small a scale is a note", "[rules][GL102]") {
  RuleFixture F;
  F.block().Attention = attention(F, 1.0 / 64, 64); // muP's 1/d_head
  auto Out = F.run("GL102");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Level == Severity::Note);
  CHECK(Out[0].Message.find("8x too small") != std::string::npos);
  F.option("GL102", "tolerance", 10);
  CHECK(F.run("GL102").empty());
}
