//===- ElementwiseGradTest.cpp - unary, binary, Where, Cast gradients -----===//
#include "GradCheck.h"
#include <catch2/catch.hpp>
#include <limits>

using namespace gradlint::test;

namespace {
const std::vector<int64_t> Shape = {3, 5};

GradCase unaryCase(const std::string &Op, Domain D, Attrs A = {},
                   const std::string &Domain = "", int64_t Opset = 17) {
  GradCase C;
  C.Name = Op + (A.empty() ? "" : "+attrs");
  C.Opset = Opset;
  if (!Domain.empty())
    C.ExtraOpsets = {{Domain, 1}};
  C.Build = [=](OnnxBuilder &B) {
    param(B, "x", Shape, D);
    B.node(Op, {"x"}, {"y"}, A, Domain);
  };
  return C;
}

GradCase binaryCase(const std::string &Op, std::vector<int64_t> SA,
                    std::vector<int64_t> SB, Domain DA, Domain DB,
                    const std::string &Tag, Attrs A = {}) {
  GradCase C;
  C.Name = Op + " " + Tag;
  C.Build = [=](OnnxBuilder &B) {
    param(B, "a", SA, DA, 1);
    param(B, "b", SB, DB, 2);
    B.node(Op, {"a", "b"}, {"y"}, A);
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: unary maps", "[probe][grad]") {
  const std::string Ms = "com.microsoft";
  checkTable({
      unaryCase("Sqrt", Domain::Positive),
      unaryCase("Reciprocal", Domain::Positive),
      unaryCase("Neg", Domain::Normal),
      unaryCase("Exp", Domain::Unit),
      unaryCase("Log", Domain::Positive),
      unaryCase("Abs", Domain::AwayFromZero),
      unaryCase("Ceil", Domain::Fraction),
      unaryCase("Floor", Domain::Fraction),
      unaryCase("Erf", Domain::Normal),
      unaryCase("Tanh", Domain::Normal),
      unaryCase("Sigmoid", Domain::Normal),
      unaryCase("Relu", Domain::AwayFromZero),
      unaryCase("LeakyRelu", Domain::AwayFromZero, {{"alpha", 0.1f}}),
      unaryCase("Elu", Domain::AwayFromZero, {{"alpha", 0.7f}}),
      unaryCase("Selu", Domain::AwayFromZero),
      unaryCase("Softplus", Domain::Normal),
      unaryCase("Mish", Domain::Normal),
      unaryCase("HardSigmoid", Domain::Unit),
      unaryCase("Gelu", Domain::Normal, {}, "", 20),
      unaryCase("Gelu", Domain::Normal, {{"approximate", std::string("tanh")}}, "", 20),
      unaryCase("Identity", Domain::Normal),
      unaryCase("Dropout", Domain::Normal),
      unaryCase("Cast", Domain::Normal, {{"to", int64_t(11)}}),
      unaryCase("Gelu", Domain::Normal, {}, Ms),
      unaryCase("QuickGelu", Domain::Normal, {{"alpha", 1.5f}}, Ms),
      unaryCase("FastGelu", Domain::Normal, {}, Ms),
  });
}

TEST_CASE("probe gradients: Clip, bias-fused GELUs", "[probe][grad]") {
  GradCase Clip;
  Clip.Name = "Clip";
  Clip.Build = [](OnnxBuilder &B) {
    B.floatInit("x", {6}, {-1.5f, -0.7f, -0.2f, 0.3f, 0.8f, 1.6f});
    B.constantFloat("lo", {}, {-1.0f});
    B.constantFloat("hi", {}, {1.0f});
    B.node("Clip", {"x", "lo", "hi"}, {"y"});
  };
  GradCase Fast;
  Fast.Name = "FastGelu with bias";
  Fast.ExtraOpsets = {{"com.microsoft", 1}};
  Fast.Build = [](OnnxBuilder &B) {
    param(B, "x", {2, 3, 4});
    param(B, "bias", {4});
    B.node("FastGelu", {"x", "bias"}, {"y"}, {}, "com.microsoft");
  };
  GradCase Bias;
  Bias.Name = "BiasGelu";
  Bias.ExtraOpsets = {{"com.microsoft", 1}};
  Bias.Build = [](OnnxBuilder &B) {
    param(B, "x", {2, 3, 4});
    param(B, "bias", {4});
    B.node("BiasGelu", {"x", "bias"}, {"y"}, {}, "com.microsoft");
  };
  GradCase Like;
  Like.Name = "CastLike to float64";
  Like.Constants = {"like"};
  Like.Build = [](OnnxBuilder &B) {
    param(B, "x", {2, 3});
    B.rawInit("like", 11, {1}, std::string(8, '\0'));
    B.node("CastLike", {"x", "like"}, {"d"});
    B.node("Mul", {"d", "d"}, {"y"});
  };
  checkTable({Clip, Fast, Bias, Like});
}

TEST_CASE("probe gradients: broadcasting binary ops", "[probe][grad]") {
  std::vector<GradCase> Cases;
  struct Shapes {
    std::vector<int64_t> A, B;
    const char *Tag;
  };
  const Shapes Table[] = {{{3, 4}, {3, 4}, "same"},
                          {{3, 4}, {4}, "row"},
                          {{2, 1, 4}, {3, 1}, "both"},
                          {{3, 4}, {}, "scalar"},
                          {{1, 4}, {3, 1}, "outer"}};
  for (const Shapes &S : Table) {
    Cases.push_back(binaryCase("Add", S.A, S.B, Domain::Normal, Domain::Normal, S.Tag));
    Cases.push_back(binaryCase("Sub", S.A, S.B, Domain::Normal, Domain::Normal, S.Tag));
    Cases.push_back(binaryCase("Mul", S.A, S.B, Domain::Normal, Domain::Normal, S.Tag));
    Cases.push_back(binaryCase("Div", S.A, S.B, Domain::Normal, Domain::Positive, S.Tag));
    Cases.push_back(binaryCase("Pow", S.A, S.B, Domain::Positive, Domain::Unit, S.Tag));
    // Max and Min on a grid: any a and b differ by at least 0.2, so no
    // finite-difference step crosses a tie.
    for (const char *Op : {"Max", "Min"}) {
      GradCase C;
      C.Name = std::string(Op) + " " + S.Tag;
      C.Build = [=](OnnxBuilder &B) {
        auto Grid = [](const std::vector<int64_t> &Sh, float Off) {
          int64_t N = 1;
          for (int64_t X : Sh)
            N *= X;
          std::vector<float> V(N);
          for (int64_t I = 0; I < N; ++I)
            V[I] = 0.4f * ((I * 7) % 11 - 5) + Off;
          return V;
        };
        B.floatInit("a", S.A, Grid(S.A, 0.0f));
        B.floatInit("b", S.B, Grid(S.B, 0.2f));
        B.node(Op, {"a", "b"}, {"y"});
      };
      Cases.push_back(C);
    }
  }
  GradCase Mod;
  Mod.Name = "Mod fmod";
  Mod.Build = [](OnnxBuilder &B) {
    B.floatInit("a", {4}, {-2.3f, -0.4f, 0.7f, 3.1f});
    B.floatInit("b", {4}, {0.9f, 1.3f, -1.1f, 1.4f});
    B.node("Mod", {"a", "b"}, {"y"}, {{"fmod", int64_t(1)}});
  };
  Cases.push_back(Mod);
  GradCase Square;
  Square.Name = "Mul x*x";
  Square.Build = [](OnnxBuilder &B) {
    param(B, "x", {3, 4});
    B.node("Mul", {"x", "x"}, {"y"});
  };
  Cases.push_back(Square);
  GradCase Sum;
  Sum.Name = "Sum of three";
  Sum.Build = [](OnnxBuilder &B) {
    param(B, "a", {2, 3});
    param(B, "b", {3});
    param(B, "c", {2, 1});
    B.node("Sum", {"a", "b", "c"}, {"y"});
  };
  Cases.push_back(Sum);
  checkTable(Cases);
}

TEST_CASE("probe gradients: Where", "[probe][grad]") {
  GradCase C;
  C.Name = "Where with broadcast";
  C.Build = [](OnnxBuilder &B) {
    boolInit(B, "c", {3, 4}, {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1});
    param(B, "a", {3, 4});
    param(B, "b", {4});
    B.node("Where", {"c", "a", "b"}, {"y"});
  };
  GradCase Same;
  Same.Name = "Where(c, x, x)";
  Same.Build = [](OnnxBuilder &B) {
    boolInit(B, "c", {4}, {1, 0, 1, 0});
    param(B, "x", {2, 4});
    B.node("Where", {"c", "x", "x"}, {"y"});
  };
  checkTable({C, Same});
}

TEST_CASE("probe gradients: attention masks kept as buffers are constants",
          "[probe][grad]") {
  // scores + (1 - tril) * -1e9, as torch exports a causal buffer; and a
  // buffer that holds -inf itself. Neither is a parameter (as in `check`).
  GradCase Additive;
  Additive.Name = "additive mask from a 0/1 buffer";
  Additive.Constants = {"tril"};
  Additive.Build = [](OnnxBuilder &B) {
    param(B, "s", {3, 3});
    B.floatInit("tril", {3, 3}, {1, 0, 0, 1, 1, 0, 1, 1, 1});
    B.constantFloat("one", {}, {1.0f});
    B.constantFloat("big", {}, {-1e9f});
    B.node("Sub", {"one", "tril"}, {"inv"});
    B.node("Mul", {"inv", "big"}, {"mask"});
    B.node("Add", {"s", "mask"}, {"masked"});
    B.node("Softmax", {"masked"}, {"y"});
  };
  GradCase Fill;
  Fill.Name = "mask buffer holding -inf";
  Fill.Constants = {"m"};
  Fill.Build = [](OnnxBuilder &B) {
    float Inf = std::numeric_limits<float>::infinity();
    param(B, "s", {2, 2});
    B.floatInit("m", {2, 2}, {0, -Inf, 0, 0});
    B.node("Add", {"s", "m"}, {"masked"});
    B.node("Softmax", {"masked"}, {"y"});
  };
  checkTable({Additive, Fill});
}
