//===- NormPatternsTest.cpp - decomposed LayerNorm and RMSNorm forms ------===//
//
// A table of the forms exporters write, each built by hand with known ε, γ
// and β; the recognizer must report exactly those. The ONNX node tests'
// expanded LayerNormalization/RMSNormalization functions are a second table
// (ε and axis from the fused op beside each).
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include "Structure/Match.h"
#include "TestPaths.h"
#include "gradlint/Loader/Loader.h"
#include <catch2/catch.hpp>
#include <functional>

using namespace gradlint;
using namespace gradlint::test;

namespace {

constexpr int64_t D = 16;

/// Builds n = norm(x) for x [2, 4, D] into B; names "x" in, "y" out.
using NormBuilder = std::function<void(OnnxBuilder &)>;

struct NormCase {
  const char *Name;
  NormKind Kind;
  double Epsilon;
  bool Gamma, Beta;
  NormBuilder Build;
  int64_t Opset = 17;
};

void scalar(OnnxBuilder &B, const std::string &Name, float V) {
  B.constantFloat(Name, {}, {V});
}

void mean(OnnxBuilder &B, const std::string &In, const std::string &Out,
          int64_t Opset = 17) {
  if (Opset >= 18) {
    B.int64Init(Out + ".axes", {1}, {-1});
    B.node("ReduceMean", {In, Out + ".axes"}, {Out});
  } else {
    B.node("ReduceMean", {In}, {Out}, {{"axes", std::vector<int64_t>{-1}}});
  }
}

void affine(OnnxBuilder &B, const std::string &N, bool Beta) {
  B.floatInit("gamma", {D}, std::vector<float>(D, 1.5f));
  B.node("Mul", {N, "gamma"}, {Beta ? "scaled" : "y"});
  if (Beta) {
    B.floatInit("beta", {D}, std::vector<float>(D, 0.25f));
    B.node("Add", {"scaled", "beta"}, {"y"});
  }
}

/// torch at opset 14: ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div.
void torchLayerNorm(OnnxBuilder &B) {
  mean(B, "x", "mu");
  B.node("Sub", {"x", "mu"}, {"d"});
  scalar(B, "two", 2.0f);
  B.node("Pow", {"d", "two"}, {"sq"});
  mean(B, "sq", "var");
  scalar(B, "eps", 1e-5f);
  B.node("Add", {"var", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Div", {"d", "s"}, {"n"});
  affine(B, "n", true);
}

/// fp16 model with Casts around the statistics.
void castLayerNorm(OnnxBuilder &B) {
  B.node("Cast", {"x"}, {"xf"}, {{"to", int64_t(F32)}});
  mean(B, "xf", "mu");
  B.node("Sub", {"xf", "mu"}, {"d"});
  B.node("Mul", {"d", "d"}, {"sq"});
  mean(B, "sq", "var");
  scalar(B, "eps", 1e-6f);
  B.node("Add", {"eps", "var"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Cast", {"s"}, {"sc"}, {{"to", int64_t(F32)}});
  B.node("Div", {"d", "sc"}, {"n32"});
  B.node("Cast", {"n32"}, {"n"}, {{"to", int64_t(F32)}});
  affine(B, "n", true);
}

/// TensorFlow: the division written as Reciprocal and Mul.
void reciprocalLayerNorm(OnnxBuilder &B) {
  mean(B, "x", "mu");
  B.node("Sub", {"x", "mu"}, {"d"});
  B.node("Mul", {"d", "d"}, {"sq"});
  mean(B, "sq", "var");
  scalar(B, "eps", 1e-3f);
  B.node("Add", {"var", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Reciprocal", {"s"}, {"r"});
  B.node("Mul", {"r", "d"}, {"n"});
  affine(B, "n", true);
}

/// tf2onnx's Keras LayerNormalization: y = x·g + (β − μ·g), g = γ/σ.
void kerasLayerNorm(OnnxBuilder &B) {
  mean(B, "x", "mu");
  B.node("Sub", {"x", "mu"}, {"d"});
  B.node("Mul", {"d", "d"}, {"sq"});
  mean(B, "sq", "var");
  scalar(B, "eps", 1e-3f);
  B.node("Add", {"var", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Reciprocal", {"s"}, {"r"});
  B.floatInit("gamma", {D}, std::vector<float>(D, 1.5f));
  B.floatInit("beta", {D}, std::vector<float>(D, 0.25f));
  B.node("Mul", {"r", "gamma"}, {"g"});
  B.node("Mul", {"x", "g"}, {"xg"});
  B.node("Mul", {"mu", "g"}, {"mg"});
  B.node("Sub", {"beta", "mg"}, {"bm"});
  B.node("Add", {"xg", "bm"}, {"y"});
}

/// The ONNX function body: variance as E[x²] − μ², opset-18 ReduceMean.
void functionLayerNorm(OnnxBuilder &B) {
  mean(B, "x", "mu", 18);
  B.node("Mul", {"x", "x"}, {"xx"});
  mean(B, "xx", "ex2", 18);
  B.node("Mul", {"mu", "mu"}, {"mu2"});
  B.node("Sub", {"ex2", "mu2"}, {"var"});
  scalar(B, "eps", 1e-5f);
  B.node("Add", {"var", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Sub", {"x", "mu"}, {"d"});
  B.node("Div", {"d", "s"}, {"n"});
  affine(B, "n", true);
}

/// No γ, no β (elementwise_affine=False).
void bareLayerNorm(OnnxBuilder &B) {
  mean(B, "x", "mu");
  B.node("Sub", {"x", "mu"}, {"d"});
  scalar(B, "two", 2.0f);
  B.node("Pow", {"d", "two"}, {"sq"});
  mean(B, "sq", "var");
  scalar(B, "eps", 1e-5f);
  B.node("Add", {"var", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Div", {"d", "s"}, {"y"});
}

/// Llama: x · (1 / sqrt(mean(x²) + ε)) · γ.
void llamaRmsNorm(OnnxBuilder &B) {
  scalar(B, "two", 2.0f);
  B.node("Pow", {"x", "two"}, {"sq"});
  mean(B, "sq", "ms");
  scalar(B, "eps", 1e-6f);
  B.node("Add", {"ms", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  scalar(B, "one", 1.0f);
  B.node("Div", {"one", "s"}, {"r"});
  B.node("Mul", {"x", "r"}, {"n"});
  affine(B, "n", false);
}

/// T5: Mul square, Reciprocal, with an fp32 upcast.
void t5RmsNorm(OnnxBuilder &B) {
  B.node("Cast", {"x"}, {"xf"}, {{"to", int64_t(F32)}});
  B.node("Mul", {"xf", "xf"}, {"sq"});
  mean(B, "sq", "ms");
  scalar(B, "eps", 1e-6f);
  B.node("Add", {"ms", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Reciprocal", {"s"}, {"r"});
  B.node("Mul", {"xf", "r"}, {"n32"});
  B.node("Cast", {"n32"}, {"n"}, {{"to", int64_t(F32)}});
  affine(B, "n", false);
}

/// rsqrt written as Pow(·, −0.5).
void powRmsNorm(OnnxBuilder &B) {
  B.node("Mul", {"x", "x"}, {"sq"});
  mean(B, "sq", "ms");
  scalar(B, "eps", 1e-5f);
  B.node("Add", {"ms", "eps"}, {"ve"});
  scalar(B, "mhalf", -0.5f);
  B.node("Pow", {"ve", "mhalf"}, {"r"});
  B.node("Mul", {"x", "r"}, {"n"});
  affine(B, "n", false);
}

/// The ONNX RMSNormalization function body: Div(x, sqrt(·)).
void divRmsNorm(OnnxBuilder &B) {
  B.node("Mul", {"x", "x"}, {"sq"});
  mean(B, "sq", "ms", 18);
  scalar(B, "eps", 1e-5f);
  B.node("Add", {"ms", "eps"}, {"ve"});
  B.node("Sqrt", {"ve"}, {"s"});
  B.node("Div", {"x", "s"}, {"n"});
  affine(B, "n", false);
}

const NormCase NormCases[] = {
    {"torch layernorm (opset 14)", NormKind::LayerNorm, 1e-5, true, true, torchLayerNorm},
    {"layernorm with casts", NormKind::LayerNorm, 1e-6, true, true, castLayerNorm},
    {"tf layernorm with reciprocal", NormKind::LayerNorm, 1e-3, true, true, reciprocalLayerNorm},
    {"keras layernorm (tf2onnx)", NormKind::LayerNorm, 1e-3, true, true, kerasLayerNorm},
    {"onnx function layernorm", NormKind::LayerNorm, 1e-5, true, true, functionLayerNorm, 18},
    {"layernorm without affine", NormKind::LayerNorm, 1e-5, false, false, bareLayerNorm},
    {"llama rmsnorm, Div(1, ·)", NormKind::RMSNorm, 1e-6, true, false, llamaRmsNorm},
    {"t5 rmsnorm, reciprocal and casts", NormKind::RMSNorm, 1e-6, true, false, t5RmsNorm},
    {"rmsnorm with Pow(·, -0.5)", NormKind::RMSNorm, 1e-5, true, false, powRmsNorm},
    {"onnx function rmsnorm", NormKind::RMSNorm, 1e-5, true, false, divRmsNorm, 18},
};

std::vector<NormInfo> normsOf(const Recovered &R) {
  return structure::findNorms(R.g());
}

} // namespace

TEST_CASE("structure: decomposed norm forms give kind, epsilon, gamma, beta",
          "[structure][norm]") {
  for (const NormCase &C : NormCases) {
    INFO(C.Name);
    OnnxBuilder B(C.Opset);
    B.input("x", F32, {int64_t(2), int64_t(4), D});
    C.Build(B);
    B.output("y");
    Recovered R = recoverBuilt(B);
    std::vector<NormInfo> Norms = normsOf(R);
    REQUIRE(Norms.size() == 1);
    const NormInfo &N = Norms[0];
    CHECK(N.Kind == C.Kind);
    CHECK(N.Decomposed);
    CHECK(N.Epsilon == Approx(C.Epsilon).epsilon(1e-6));
    CHECK(N.Axis == -1);
    CHECK(R.valueName(N.Input) == "x");
    CHECK(R.valueName(N.Output) == "y");
    CHECK(R.valueName(N.Gamma) == (C.Gamma ? "gamma" : "<none>"));
    CHECK(R.valueName(N.Beta) == (C.Beta ? "beta" : "<none>"));
    // Every compute node of the graph belongs to the norm.
    for (NodeId Id : R.g().Order) {
      const Node &Nd = R.g().Nodes[Id];
      if (Nd.Kind != OpKind::Constant)
        CHECK(llvm::is_contained(N.Nodes, Id));
    }
  }
}

TEST_CASE("structure: a sum of squares is no norm without the reduction "
          "over the last axis",
          "[structure][norm]") {
  // ReduceMean over axis 0 (the batch): not a layer norm.
  OnnxBuilder B(17);
  B.input("x", F32, {int64_t(2), int64_t(4), D});
  B.node("Mul", {"x", "x"}, {"sq"})
      .node("ReduceMean", {"sq"}, {"ms"}, {{"axes", std::vector<int64_t>{0}}})
      .constantFloat("eps", {}, {1e-5f})
      .node("Add", {"ms", "eps"}, {"ve"})
      .node("Sqrt", {"ve"}, {"s"})
      .node("Div", {"x", "s"}, {"y"})
      .output("y");
  Recovered R = recoverBuilt(B);
  CHECK(normsOf(R).empty());
}

TEST_CASE("structure: ONNX node tests' expanded norm functions match the "
          "fused op's attributes",
          "[structure][norm][node-tests]") {
  std::string Dir = nodeTestsDir();
  if (!pathExists(Dir))
    GRADLINT_SKIP("onnx node tests not found at " << Dir);
  struct Case {
    const char *Test;
    NormKind Kind;
    double Epsilon;
    int64_t Axis;
  };
  // Axis: the first normalized axis counted from the end.
  const Case Cases[] = {
      {"test_layer_normalization_3d_axis_negative_1_epsilon_expanded", NormKind::LayerNorm, 0.1, -1},
      {"test_layer_normalization_3d_axis_negative_1_epsilon_expanded_ver18", NormKind::LayerNorm, 0.1, -1},
      {"test_layer_normalization_4d_axis_negative_2_expanded_ver18", NormKind::LayerNorm, 1e-5, -2},
      {"test_layer_normalization_default_axis_expanded_ver18", NormKind::LayerNorm, 1e-5, -1},
      {"test_rms_normalization_3d_axis_negative_1_epsilon_expanded", NormKind::RMSNorm, 0.1, -1},
      {"test_rms_normalization_4d_axis_negative_2_expanded", NormKind::RMSNorm, 1e-5, -2},
      {"test_rms_normalization_default_axis_expanded", NormKind::RMSNorm, 1e-5, -1},
  };
  for (const Case &C : Cases) {
    INFO(C.Test);
    std::string Path = Dir + "/" + C.Test + "/model.onnx";
    if (!pathExists(Path))
      continue;
    Recovered R = recoverFile(Path);
    std::vector<NormInfo> Norms = normsOf(R);
    REQUIRE(Norms.size() == 1);
    CHECK(Norms[0].Kind == C.Kind);
    CHECK(Norms[0].Epsilon == Approx(C.Epsilon).epsilon(1e-6));
    CHECK(Norms[0].Axis == C.Axis);
    CHECK(Norms[0].Gamma == NoId); // W is a graph input in the node tests
  }
}
