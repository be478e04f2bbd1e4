//===- AttentionGradTest.cpp - fused attention gradients ------------------===//
#include "GradCheck.h"
#include <catch2/catch.hpp>
#include <limits>

using namespace gradlint::test;

namespace {
const std::string Ms = "com.microsoft";

/// ONNX Attention (opset 23) with Q heads Hq, KV heads Hkv, head size 4.
GradCase onnxAttention(const std::string &Tag, bool ThreeD, int64_t Hq,
                       int64_t Hkv, Attrs A, bool Mask, bool Past) {
  GradCase C;
  C.Name = "Attention " + Tag;
  C.Opset = 23;
  if (Mask)
    C.Constants = {"m"};
  C.Build = [=](OnnxBuilder &G) {
    int64_t B = 2, S = 3, D = 4, P = 2;
    if (ThreeD) {
      param(G, "q", {B, S, Hq * D});
      param(G, "k", {B, S, Hkv * D});
      param(G, "v", {B, S, Hkv * D});
    } else {
      param(G, "q", {B, Hq, S, D});
      param(G, "k", {B, Hkv, S, D});
      param(G, "v", {B, Hkv, S, D});
    }
    std::vector<std::string> In = {"q", "k", "v", ""};
    if (Mask) {
      int64_t T = S + (Past ? P : 0);
      std::vector<float> M(S * T);
      for (int64_t I = 0; I < S * T; ++I)
        M[I] = 0.5f * ((I * 5) % 3) - 0.5f;
      M[1] = -std::numeric_limits<float>::infinity();
      G.floatInit("m", {S, T}, M);
      In[3] = "m";
    }
    if (Past) {
      param(G, "pk", {B, Hkv, P, D});
      param(G, "pv", {B, Hkv, P, D});
      In.push_back("pk");
      In.push_back("pv");
    }
    Attrs All = A;
    if (ThreeD) {
      All["q_num_heads"] = Hq;
      All["kv_num_heads"] = Hkv;
    }
    std::vector<std::string> Out = {"y"};
    if (Past) // present key feeds the output too
      Out = {"att", "pres_k"};
    G.node("Attention", In, Out, All);
    if (Past) {
      G.constantInt64("r", {3}, {B, -1, D});
      G.node("Reshape", {"pres_k", "r"}, {"kr"});
      G.node("ReduceSum", {"kr"}, {"ks"}, {{"keepdims", int64_t(0)}});
      G.node("ReduceSum", {"att"}, {"as"}, {{"keepdims", int64_t(0)}});
      G.node("Add", {"as", "ks"}, {"y"});
    }
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: ONNX Attention", "[probe][grad]") {
  checkTable({
      onnxAttention("4-D", false, 2, 2, {}, false, false),
      onnxAttention("3-D", true, 2, 2, {}, false, false),
      onnxAttention("GQA causal", true, 4, 2, {{"is_causal", int64_t(1)}}, false, false),
      onnxAttention("scaled softcap", false, 2, 2, {{"scale", 0.3f}, {"softcap", 2.0f}}, true, false),
      onnxAttention("past and present", false, 2, 1, {{"is_causal", int64_t(1)}}, false, true),
  });
}

TEST_CASE("probe gradients: com.microsoft attention", "[probe][grad]") {
  GradCase Mha;
  Mha.Name = "MultiHeadAttention with bias and key mask";
  Mha.ExtraOpsets = {{Ms, 1}};
  Mha.Build = [](OnnxBuilder &G) {
    param(G, "q", {2, 3, 8});
    param(G, "k", {2, 4, 8});
    param(G, "v", {2, 4, 8});
    param(G, "b", {24});
    G.constantInt64("kpm", {2, 4}, {1, 1, 1, 0, 1, 1, 0, 0});
    G.node("Cast", {"kpm"}, {"mask"}, {{"to", int64_t(6)}});
    G.node("MultiHeadAttention", {"q", "k", "v", "b", "mask"}, {"y"},
           {{"num_heads", int64_t(2)}}, Ms);
  };
  GradCase Uni;
  Uni.Name = "MultiHeadAttention unidirectional";
  Uni.ExtraOpsets = {{Ms, 1}};
  Uni.Build = [](OnnxBuilder &G) {
    param(G, "q", {1, 4, 6});
    param(G, "k", {1, 4, 6});
    param(G, "v", {1, 4, 6});
    G.node("MultiHeadAttention", {"q", "k", "v"}, {"y"},
           {{"num_heads", int64_t(3)}, {"unidirectional", int64_t(1)}}, Ms);
  };
  GradCase Fused;
  Fused.Name = "Attention (com.microsoft) with mask_index";
  Fused.ExtraOpsets = {{Ms, 1}};
  Fused.Build = [](OnnxBuilder &G) {
    param(G, "x", {2, 3, 5});
    param(G, "w", {5, 12});
    param(G, "b", {12});
    G.constantInt64("mi", {2, 3}, {1, 1, 1, 1, 0, 1});
    G.node("Cast", {"mi"}, {"mask"}, {{"to", int64_t(6)}});
    G.node("Attention", {"x", "w", "b", "mask"}, {"y"},
           {{"num_heads", int64_t(2)}, {"unidirectional", int64_t(1)}}, Ms);
  };
  checkTable({Mha, Uni, Fused});
}
