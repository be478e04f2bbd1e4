//===- GL111-init-scale.cpp - tests ---------------------------------------===//
#include "OnnxBuilder.h"
#include "RuleFixture.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Shape/ShapeInference.h"

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1;

/// x[1,4,64] -> MatMul(up[64,256]) -> Add(b) -> Relu ->
/// MatMul(Transpose(down[64,256])). Values are ±Std, so each weight's RMS is
/// its std.
struct Mlp {
  RuleFixture F;
  std::string Dir = makeTempDir("gl111");
  Mlp(float UpStd, float DownStd) {
    OnnxBuilder B;
    auto Signs = [](size_t N, float S) {
      std::vector<float> V(N);
      for (size_t I = 0; I < N; ++I)
        V[I] = I % 2 ? S : -S;
      return V;
    };
    B.input("x", F32, {int64_t(1), int64_t(4), int64_t(64)})
        .floatInit("up", {64, 256}, Signs(64 * 256, UpStd))
        .floatInit("b", {256}, std::vector<float>(256, 0))
        .floatInit("down", {64, 256}, Signs(64 * 256, DownStd))
        .node("MatMul", {"x", "up"}, {"h"}, {}, "", "/mlp/up/MatMul")
        .node("Add", {"h", "b"}, {"hb"})
        .node("Relu", {"hb"}, {"a"})
        .node("Transpose", {"down"}, {"downT"},
              {{"perm", std::vector<int64_t>{1, 0}}})
        .node("MatMul", {"a", "downT"}, {"y"}, {}, "", "/mlp/down/MatMul")
        .output("y");
    std::string Path = B.writeTo(Dir + "/mlp.onnx");
    auto M = loadModel(Path);
    REQUIRE(bool(M));
    REQUIRE(bool(inferShapes(**M, {})));
    F.M = std::move(**M);
    F.A.Facts.resize(F.M.G.Nodes.size());
    F.S.NodeBlock.assign(F.M.G.Nodes.size(), -1);
    add("up", {64, 256}, UpStd);
    add("down", {64, 256}, DownStd);
  }
  ~Mlp() { std::system(("rm -rf '" + Dir + "'").c_str()); }
  void add(const std::string &Name, Dims Shape, double Std) {
    ParameterPrediction &P = F.param(Name, Shape, 1.0);
    P.Value = F.M.G.findValue(Name);
    P.WeightNorm = Std * std::sqrt(double(Shape[0] * Shape[1]));
  }
};
} // namespace

TEST_CASE("GL111: a weight 5.7x above Kaiming before a relu",
          "[rules][GL111]") {
  Mlp G(1.0f, 0.0625f);
  auto Out = G.F.run("GL111");
  REQUIRE(Out.size() == 1);
  const Finding &F = Out[0];
  CHECK(F.Parameter == "up");
  CHECK(F.Node == "/mlp/up/MatMul");
  // Kaiming for fan-in 64: sqrt(2/64) = 0.1768.
  CHECK(*F.Evidence.getNumber("recommended_std") ==
        Approx(std::sqrt(2.0 / 64)));
  CHECK(*F.Evidence.getInteger("fan_in") == 64);
  CHECK(*F.Evidence.getInteger("fan_out") == 256);
  CHECK(F.Message ==
        "init std of parameter 'up' is 1, 5.66x above the recommended 0.177");
  CHECK(F.Remedies[0].rfind(
            "initialize it with std 0.177 (Kaiming std sqrt(2/fan_in) "
            "for fan-in 64, followed by relu)",
            0) == 0);
}

TEST_CASE("GL111: a transposed weight far below Xavier", "[rules][GL111]") {
  Mlp G(0.125f, 0.001f);
  auto Out = G.F.run("GL111");
  REQUIRE(Out.size() == 1);
  // down is [64, 256] used through Transpose: fan-in 256, fan-out 64,
  // Xavier sqrt(2/320) = 0.0791.
  CHECK(Out[0].Parameter == "down");
  CHECK(*Out[0].Evidence.getInteger("fan_in") == 256);
  CHECK(*Out[0].Evidence.getNumber("recommended_std") ==
        Approx(std::sqrt(2.0 / 320)));
  CHECK(Out[0].Message.find("79.1x below") != std::string::npos);
}

TEST_CASE(
    "GL111: PyTorch's default init passes; small output projections are fine",
    "[rules][GL111]") {
  // nn.Linear's default std is 1/sqrt(3 fan_in).
  Mlp G(float(1 / std::sqrt(3.0 * 64)), float(1 / std::sqrt(3.0 * 256)));
  CHECK(G.F.run("GL111").empty());
  Mlp Small(0.125f, 0.0f);
  Small.F.S.Roles["down"] = {0, "ffn.down", "block 0 ffn.down"};
  Small.F.block();
  CHECK(Small.F.run("GL111").empty());
}
