//===- NormalizationGradTest.cpp - LayerNorm, RMSNorm, fused variants -----===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
const std::string Ms = "com.microsoft";

GradCase layerNorm(int64_t Axis, bool Bias) {
  GradCase C;
  C.Name = "LayerNormalization axis " + std::to_string(Axis) + (Bias ? " bias" : "");
  C.Build = [=](OnnxBuilder &G) {
    param(G, "x", {2, 3, 6});
    std::vector<int64_t> P = Axis == -1 ? std::vector<int64_t>{6}
                                        : std::vector<int64_t>{3, 6};
    param(G, "g", P, Domain::Positive);
    std::vector<std::string> In = {"x", "g"};
    if (Bias) {
      param(G, "b", P);
      In.push_back("b");
    }
    G.node("LayerNormalization", In, {"y"}, {{"axis", Axis}, {"epsilon", 1e-3f}});
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: normalization", "[probe][grad]") {
  GradCase Rms;
  Rms.Name = "RMSNormalization";
  Rms.Opset = 23;
  Rms.Build = [](OnnxBuilder &G) {
    param(G, "x", {2, 3, 6});
    param(G, "g", {6}, Domain::Positive);
    G.node("RMSNormalization", {"x", "g"}, {"y"}, {{"epsilon", 1e-3f}});
  };
  GradCase Simplified;
  Simplified.Name = "SimplifiedLayerNormalization";
  Simplified.Build = [](OnnxBuilder &G) {
    param(G, "x", {4, 6});
    param(G, "g", {6}, Domain::Positive);
    G.node("SimplifiedLayerNormalization", {"x", "g"}, {"y"}, {{"epsilon", 1e-3f}});
  };
  GradCase Skip;
  Skip.Name = "SkipLayerNormalization with beta and bias";
  Skip.ExtraOpsets = {{Ms, 1}};
  Skip.Build = [](OnnxBuilder &G) {
    param(G, "x", {2, 3, 6});
    param(G, "s", {2, 3, 6});
    param(G, "g", {6}, Domain::Positive);
    param(G, "b", {6});
    param(G, "bias", {6});
    G.node("SkipLayerNormalization", {"x", "s", "g", "b", "bias"}, {"y"},
           {{"epsilon", 1e-3f}}, Ms);
  };
  GradCase SkipSum;
  SkipSum.Name = "SkipLayerNormalization sum output used";
  SkipSum.ExtraOpsets = {{Ms, 1}};
  SkipSum.Build = [](OnnxBuilder &G) {
    param(G, "x", {3, 6});
    param(G, "s", {3, 6});
    param(G, "g", {6}, Domain::Positive);
    G.node("SkipLayerNormalization", {"x", "s", "g"}, {"n", "", "", "sum"},
           {{"epsilon", 1e-3f}}, Ms);
    G.node("Mul", {"n", "sum"}, {"y"});
  };
  GradCase SkipSimplified;
  SkipSimplified.Name = "SkipSimplifiedLayerNormalization";
  SkipSimplified.ExtraOpsets = {{Ms, 1}};
  SkipSimplified.Build = [](OnnxBuilder &G) {
    param(G, "x", {2, 3, 6});
    param(G, "s", {2, 3, 6});
    param(G, "g", {6}, Domain::Positive);
    param(G, "bias", {6});
    G.node("SkipSimplifiedLayerNormalization", {"x", "s", "g", "bias"}, {"y"},
           {{"epsilon", 1e-3f}}, Ms);
  };
  checkTable({layerNorm(-1, true), layerNorm(-1, false), layerNorm(1, true), Rms,
              Simplified, Skip, SkipSum, SkipSimplified});
}
