//===- GL109-saturating-activation.cpp - tests ----------------------------===//
#include "RuleFixture.h"
#include <random>

using namespace gradlint;
using namespace gradlint::test;

/// Adds Kind(In) -> Out, linking producers and users.
static NodeId unary(RuleFixture &F, OpKind Kind, ValueId In, ValueId Out,
                    const std::string &Name) {
  NodeId N = F.addNode(Name, Kind);
  F.M.G.Nodes[N].Inputs = {In};
  F.M.G.Nodes[N].Outputs = {Out};
  F.M.G.Values[In].Users.push_back(N);
  F.M.G.Values[Out].Producer = N;
  return N;
}

static NodeId binary(RuleFixture &F, OpKind Kind, ValueId A, ValueId B,
                     ValueId Out, const std::string &Name) {
  NodeId N = unary(F, Kind, A, Out, Name);
  F.M.G.Nodes[N].Inputs.push_back(B);
  F.M.G.Values[B].Users.push_back(N);
  return N;
}

static ValueId scalar(RuleFixture &F, const std::string &Name, double V) {
  ValueId C = F.addValue(Name);
  auto T = std::make_shared<HostTensor>();
  T->Type = DataType::Float;
  T->Reals = {V};
  F.M.G.Values[C].Const = T;
  return C;
}

TEST_CASE("GL109: tanh with input std 10 is 62% saturated", "[rules][GL109]") {
  RuleFixture F;
  ValueId X = F.addValue("h"), Y = F.addValue("a");
  unary(F, OpKind::Tanh, X, Y, "/h.3/mlp/Tanh");
  F.A.Forward[X] = gaussian(0, 100);
  auto Out = F.run("GL109");
  REQUIRE(Out.size() == 1);
  // P(|x| >= 5) for N(0, 10^2) is 2 Phi(-0.5).
  double Exact = std::erfc(0.5 / std::sqrt(2.0));
  CHECK(*Out[0].Evidence.getNumber("saturated_share") == Approx(Exact));
  CHECK(Out[0].Message ==
        "tanh saturates: 62% of its input has |x| >= 5 (input RMS 10)");
  CHECK(Out[0].Node == "/h.3/mlp/Tanh");

  // The mean derivative against a seeded Monte Carlo estimate.
  std::mt19937_64 Rng(42);
  std::normal_distribution<double> Z(0, 10);
  double Sum = 0;
  const int Samples = 400000;
  for (int I = 0; I < Samples; ++I) {
    double T = std::tanh(Z(Rng));
    Sum += 1 - T * T;
  }
  CHECK(*Out[0].Evidence.getNumber("mean_derivative_ratio") ==
        Approx(Sum / Samples).epsilon(0.01));
}

TEST_CASE("GL109: sigmoid with a shifted input", "[rules][GL109]") {
  RuleFixture F;
  ValueId X = F.addValue("z"), Y = F.addValue("s");
  F.S.NodeBlock.resize(1, -1);
  NodeId N = unary(F, OpKind::Sigmoid, X, Y, "/gate/Sigmoid");
  F.S.NodeBlock[N] = 2;
  F.block();
  F.block();
  F.block();
  F.A.Forward[X] = gaussian(6, 1); // P(x >= 5) = Phi(1) = 0.841
  auto Out = F.run("GL109");
  REQUIRE(Out.size() == 1);
  CHECK(*Out[0].Evidence.getNumber("saturated_share") ==
        Approx(0.8413).epsilon(1e-3));
  CHECK(Out[0].Block == 2);
  CHECK(Out[0].Message.rfind("sigmoid in block 2 saturates: 84%", 0) == 0);
}

TEST_CASE("GL109: moderate inputs, GELU-tanh and SiLU are not reported",
          "[rules][GL109]") {
  RuleFixture F;
  // tanh with input std 4: 2 Phi(-1.25) = 21% saturated.
  ValueId X = F.addValue("x"), Y = F.addValue("y");
  unary(F, OpKind::Tanh, X, Y, "tanh");
  F.A.Forward[X] = gaussian(0, 16);
  // GELU (tanh form): tanh(0.7978845608 * u), whatever u's scale.
  ValueId U = F.addValue("u"), C = scalar(F, "c", 0.7978845608),
          S = F.addValue("su");
  ValueId T = F.addValue("t");
  binary(F, OpKind::Mul, U, C, S, "gelu/Mul");
  unary(F, OpKind::Tanh, S, T, "gelu/Tanh");
  F.A.Forward[S] = gaussian(0, 400);
  // SiLU: x * sigmoid(x).
  ValueId V = F.addValue("v"), G = F.addValue("g"), P = F.addValue("p");
  unary(F, OpKind::Sigmoid, V, G, "silu/Sigmoid");
  binary(F, OpKind::Mul, V, G, P, "silu/Mul");
  F.A.Forward[V] = gaussian(0, 400);
  CHECK(F.run("GL109").empty());
  F.option("GL109", "share", 0.2);
  CHECK(F.run("GL109").size() == 1); // the plain tanh
}
