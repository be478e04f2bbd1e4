//===- GL110-dead-relu.cpp - tests ----------------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

namespace {
/// x + b -> Relu, with b an initializer of eight equal values.
struct ReluGraph {
  RuleFixture F;
  float Bias[8];
  ValueId Pre;

  explicit ReluGraph(float B) {
    for (float &V : Bias)
      V = B;
    ValueId X = F.addValue("x"), Bv = F.addValue("fc.bias");
    Pre = F.addValue("pre");
    ValueId Out = F.addValue("out");
    TensorData T;
    T.Name = "fc.bias";
    T.Type = DataType::Float;
    T.Shape = {8};
    T.NumElements = 8;
    T.Bytes = llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(Bias),
                                      sizeof Bias);
    F.M.G.Tensors.push_back(T);
    F.M.G.Values[Bv].Initializer = 0;
    NodeId Add = F.addNode("/fc/Add", OpKind::Add);
    F.M.G.Nodes[Add].Inputs = {X, Bv};
    F.M.G.Nodes[Add].Outputs = {Pre};
    F.M.G.Values[Pre].Producer = Add;
    NodeId Relu = F.addNode("/act/Relu", OpKind::Relu);
    F.M.G.Nodes[Relu].Inputs = {Pre};
    F.M.G.Nodes[Relu].Outputs = {Out};
  }
};
} // namespace

TEST_CASE("GL110: a bias of -1 on unit inputs kills 84% of a relu",
          "[rules][GL110]") {
  ReluGraph R(-1.0f);
  R.F.A.Forward[R.Pre] = gaussian(-1, 1); // P(x <= 0) = Phi(1)
  auto Out = R.F.run("GL110");
  REQUIRE(Out.size() == 1);
  CHECK(*Out[0].Evidence.getNumber("inactive_share") ==
        Approx(0.841345).epsilon(1e-5));
  CHECK(Out[0].Message ==
        "relu is inactive for 84% of its input, which gets no "
        "gradient there");
  CHECK(Out[0].Node == "/act/Relu");
  CHECK(Out[0].Parameter == "fc.bias");
  CHECK(Out[0].Remedies[0] ==
        "the bias 'fc.bias' averages -1: initialize it to 0 "
        "(or slightly positive)");
}

TEST_CASE("GL110: a centred relu input is half inactive and passes",
          "[rules][GL110]") {
  ReluGraph R(0.0f);
  R.F.A.Forward[R.Pre] = gaussian(0, 1);
  CHECK(R.F.run("GL110").empty());
  R.F.option("GL110", "share", 0.5);
  auto Out = R.F.run("GL110");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Parameter.empty()); // a zero bias is not blamed
}
