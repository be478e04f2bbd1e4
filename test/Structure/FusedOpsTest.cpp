//===- FusedOpsTest.cpp - contrib and opset-23 fused ops ------------------===//
//
// Hand-built blocks as ONNX Runtime's transformer optimizer writes them
// (com.microsoft Attention, MultiHeadAttention, GroupQueryAttention,
// SkipLayerNormalization, SkipSimplifiedLayerNormalization,
// SimplifiedLayerNormalization, FastGelu, BiasGelu) and as opset 23 does
// (Attention, RMSNormalization). Expected values are the ones written into
// the graph.
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include <catch2/catch.hpp>
#include <cmath>

using namespace gradlint;
using namespace gradlint::test;

namespace {

constexpr int64_t D = 32, T = 8, Ff = 64;

OnnxBuilder start(int64_t Opset = 17) {
  OnnxBuilder B(Opset);
  B.opset("com.microsoft", 1);
  B.input("x", F32, {int64_t(2), int64_t(T), D});
  return B;
}

void gammaBeta(OnnxBuilder &B, const std::string &Name) {
  B.floatInit(Name + ".gamma", {D}, std::vector<float>(D, 1.0f));
  B.floatInit(Name + ".beta", {D}, std::vector<float>(D, 0.0f));
}

} // namespace

TEST_CASE("structure: com.microsoft Attention with SkipLayerNormalization "
          "and FastGelu",
          "[structure][fused]") {
  // x ─▶ LayerNormalization ─▶ Attention(W_qkv) ─▶ Wo ─▶ SkipLN(·, x) ─┬─▶ W1 ─▶ FastGelu ─▶ W2 ─┐
  //                                                         sum ───────┴──────────────────────── Add ─▶ y
  OnnxBuilder B = start();
  gammaBeta(B, "ln1");
  gammaBeta(B, "ln2");
  B.node("LayerNormalization", {"x", "ln1.gamma", "ln1.beta"}, {"h"},
         {{"epsilon", 1e-5f}, {"axis", int64_t(-1)}}, "", "ln1");
  B.floatInit("qkv.weight", {D, 3 * D}, std::vector<float>(3 * D * D, 0.01f));
  B.floatInit("qkv.bias", {3 * D}, std::vector<float>(3 * D, 0.0f));
  B.node("Attention", {"h", "qkv.weight", "qkv.bias"}, {"ctx"},
         {{"num_heads", int64_t(4)}, {"unidirectional", int64_t(1)}},
         "com.microsoft", "attn");
  std::string A = addLinear(B, "ctx", "wo", D, D, /*Bias=*/false);
  B.floatInit("wo.bias", {D}, std::vector<float>(D, 0.0f));
  B.node("SkipLayerNormalization", {A, "x", "ln2.gamma", "ln2.beta", "wo.bias"},
         {"h2", "", "", "sum"}, {{"epsilon", 1e-6f}}, "com.microsoft", "skipln");
  std::string U = addLinear(B, "h2", "w1", D, Ff, /*Bias=*/false);
  B.floatInit("w1.bias", {Ff}, std::vector<float>(Ff, 0.0f));
  B.node("FastGelu", {U, "w1.bias"}, {"act"}, {}, "com.microsoft", "gelu");
  std::string Dn = addLinear(B, "act", "w2", Ff, D);
  B.node("Add", {"sum", Dn}, {"y"}, {}, "", "res2").output("y");
  Recovered R = recoverBuilt(B);

  REQUIRE(R.S.Blocks.size() == 1);
  const BlockInfo &Bl = R.S.Blocks[0];
  CHECK(Bl.Norm == NormPlacement::Pre);
  REQUIRE(Bl.Attention);
  const AttentionInfo &At = *Bl.Attention;
  CHECK(At.Fused == R.node("attn"));
  CHECK(At.Q == At.Fused);
  CHECK(At.FusedQkv);
  CHECK(R.valueName(At.QWeight) == "qkv.weight");
  CHECK(At.Heads == 4);
  CHECK(At.HeadDim == 8);
  CHECK(At.Scale == Approx(1 / std::sqrt(8.0)).epsilon(1e-12));
  CHECK(At.Mask == MaskKind::Causal);
  CHECK(R.nodeName(At.Out) == "wo/MatMul");
  REQUIRE(Bl.Ffn);
  CHECK(Bl.Ffn->Activation == "gelu_tanh");
  CHECK(R.valueName(Bl.Ffn->UpBias) == "w1.bias");
  REQUIRE(Bl.Residuals.size() == 2);
  CHECK(R.nodeName(Bl.Residuals[0].Add) == "skipln");
  CHECK(R.valueName(Bl.Residuals[0].Skip) == "x");
  CHECK(R.nodeName(Bl.Residuals[1].Add) == "res2");
  REQUIRE(Bl.Norms.size() == 2);
  CHECK(Bl.Norms[0].Form == "LayerNormalization");
  CHECK(Bl.Norms[0].Sublayer == "attention");
  CHECK(Bl.Norms[0].Epsilon == Approx(1e-5));
  CHECK(Bl.Norms[1].Form == "SkipLayerNormalization");
  CHECK(Bl.Norms[1].Sublayer == "ffn");
  CHECK(Bl.Norms[1].Placement == NormPlacement::Pre);
  CHECK(Bl.Norms[1].Epsilon == Approx(1e-6));
  CHECK(R.valueName(Bl.Norms[1].Gamma) == "ln2.gamma");
  CHECK(R.valueName(Bl.Norms[1].Beta) == "ln2.beta");
  CHECK(R.S.Unassigned.empty());
  CHECK(R.S.roleOf(*R.M, "qkv.weight").Kind == "attention.qkv");
  CHECK(R.S.roleOf(*R.M, "ln2.gamma").Phrase == "block 0 feed-forward layernorm gamma");
}

TEST_CASE("structure: post-norm MultiHeadAttention with a padding mask and "
          "BiasGelu",
          "[structure][fused]") {
  // x ─▶ Wq, Wk, Wv ─▶ MultiHeadAttention(mask) ─▶ Wo ─▶ Add(x) ─▶ LN ─▶ W1 ─▶ BiasGelu ─▶ W2 ─▶ Add ─▶ LN
  OnnxBuilder B = start();
  B.input("attention_mask", I32, {int64_t(2), int64_t(T)});
  std::string Q = addLinear(B, "x", "wq", D, D);
  std::string K = addLinear(B, "x", "wk", D, D);
  std::string V = addLinear(B, "x", "wv", D, D);
  B.node("MultiHeadAttention", {Q, K, V, "", "attention_mask"}, {"ctx"},
         {{"num_heads", int64_t(2)}, {"scale", 0.5f}}, "com.microsoft", "mha");
  std::string O = addLinear(B, "ctx", "wo", D, D);
  B.node("Add", {"x", O}, {"r1"}, {}, "", "res1");
  gammaBeta(B, "ln1");
  gammaBeta(B, "ln2");
  B.node("LayerNormalization", {"r1", "ln1.gamma", "ln1.beta"}, {"h"}, {}, "", "ln1");
  std::string U = addLinear(B, "h", "w1", D, Ff, /*Bias=*/false);
  B.floatInit("w1.bias", {Ff}, std::vector<float>(Ff, 0.0f));
  B.node("BiasGelu", {U, "w1.bias"}, {"act"}, {}, "com.microsoft", "gelu");
  std::string Dn = addLinear(B, "act", "w2", Ff, D);
  B.node("Add", {"h", Dn}, {"r2"}, {}, "", "res2");
  B.node("LayerNormalization", {"r2", "ln2.gamma", "ln2.beta"}, {"y"}, {}, "", "ln2")
      .output("y");
  Recovered R = recoverBuilt(B);

  REQUIRE(R.S.Blocks.size() == 1);
  const BlockInfo &Bl = R.S.Blocks[0];
  CHECK(Bl.Norm == NormPlacement::Post);
  const AttentionInfo &At = *Bl.Attention;
  CHECK(At.Fused == R.node("mha"));
  CHECK(!At.FusedQkv);
  CHECK(R.nodeName(At.Q) == "wq/MatMul");
  CHECK(R.nodeName(At.K) == "wk/MatMul");
  CHECK(R.nodeName(At.V) == "wv/MatMul");
  CHECK(R.valueName(At.KWeight) == "wk.weight");
  CHECK(R.valueName(At.VBias) == "wv.bias");
  CHECK(At.Heads == 2);
  CHECK(At.HeadDim == 16);
  CHECK(At.Scale == Approx(0.5));
  CHECK(At.Mask == MaskKind::Padding);
  CHECK(Bl.Ffn->Activation == "gelu");
  CHECK(Bl.Residuals.size() == 2);
  REQUIRE(Bl.Norms.size() == 2);
  CHECK(Bl.Norms[0].Placement == NormPlacement::Post);
  CHECK(Bl.Norms[1].Placement == NormPlacement::Post);
  CHECK(R.S.FinalNorms.empty());
  CHECK(R.S.Unassigned.empty());
}

TEST_CASE("structure: GroupQueryAttention with SimplifiedLayerNormalization "
          "and SkipSimplifiedLayerNormalization",
          "[structure][fused]") {
  // x ─▶ SimplifiedLN ─▶ Wq (4 heads), Wk, Wv (2 heads) ─▶ GQA ─▶ Wo ─▶
  //   SkipSimplifiedLN(·, x) ─┬─▶ gate/up ─▶ SiLU·up ─▶ down ─┐
  //                     sum ──┴──────────────────────────── Add ─▶ y
  OnnxBuilder B = start();
  B.floatInit("n1.gamma", {D}, std::vector<float>(D, 1.0f));
  B.floatInit("n2.gamma", {D}, std::vector<float>(D, 1.0f));
  B.node("SimplifiedLayerNormalization", {"x", "n1.gamma"}, {"h"},
         {{"epsilon", 1e-6f}}, "", "n1");
  std::string Q = addLinear(B, "h", "wq", D, D, false);
  std::string K = addLinear(B, "h", "wk", D, D / 2, false);
  std::string V = addLinear(B, "h", "wv", D, D / 2, false);
  B.int64Init("seqlens_k", {2}, {T - 1, T - 1});
  B.int64Init("total_len", {}, {T});
  B.node("GroupQueryAttention", {Q, K, V, "", "", "seqlens_k", "total_len"},
         {"ctx"}, {{"num_heads", int64_t(4)}, {"kv_num_heads", int64_t(2)}},
         "com.microsoft", "gqa");
  std::string O = addLinear(B, "ctx", "wo", D, D, false);
  B.node("SkipSimplifiedLayerNormalization", {O, "x", "n2.gamma"},
         {"h2", "", "", "sum"}, {{"epsilon", 1e-6f}}, "com.microsoft", "skip");
  std::string G = addLinear(B, "h2", "wg", D, Ff, false);
  std::string U = addLinear(B, "h2", "wu", D, Ff, false);
  B.node("Sigmoid", {G}, {"sg"}, {}, "", "sig")
      .node("Mul", {G, "sg"}, {"silu"}, {}, "", "silu")
      .node("Mul", {"silu", U}, {"gu"}, {}, "", "gate_mul");
  std::string Dn = addLinear(B, "gu", "wd", Ff, D, false);
  B.node("Add", {"sum", Dn}, {"y"}, {}, "", "res2").output("y");
  Recovered R = recoverBuilt(B);

  REQUIRE(R.S.Blocks.size() == 1);
  const BlockInfo &Bl = R.S.Blocks[0];
  CHECK(Bl.Norm == NormPlacement::Pre);
  const AttentionInfo &At = *Bl.Attention;
  CHECK(At.Fused == R.node("gqa"));
  CHECK(At.Heads == 4);
  CHECK(At.KvHeads == 2);
  CHECK(At.HeadDim == 8);
  CHECK(At.Scale == Approx(1 / std::sqrt(8.0)));
  CHECK(At.Mask == MaskKind::Causal);
  REQUIRE(Bl.Ffn);
  CHECK(Bl.Ffn->Activation == "swiglu");
  CHECK(Bl.Ffn->Gated);
  CHECK(R.nodeName(Bl.Ffn->Gate) == "wg/MatMul");
  CHECK(R.nodeName(Bl.Ffn->Up) == "wu/MatMul");
  CHECK(R.nodeName(Bl.Ffn->Down) == "wd/MatMul");
  REQUIRE(Bl.Norms.size() == 2);
  for (const NormInfo &N : Bl.Norms) {
    CHECK(N.Kind == NormKind::RMSNorm);
    CHECK(N.Placement == NormPlacement::Pre);
    CHECK(N.Beta == NoId);
    CHECK(N.Epsilon == Approx(1e-6));
  }
  CHECK(Bl.Residuals.size() == 2);
  CHECK(R.S.roleOf(*R.M, "wg.weight").Kind == "ffn.gate");
  CHECK(R.S.roleOf(*R.M, "wu.weight").Kind == "ffn.up");
  CHECK(R.S.roleOf(*R.M, "wd.weight").Phrase == "block 0 feed-forward down projection");
  CHECK(R.S.Unassigned.empty());
}

TEST_CASE("structure: opset-23 Attention and RMSNormalization",
          "[structure][fused]") {
  // Two pre-norm blocks: RMSNormalization ─▶ Wq/Wk/Wv ─▶ Attention(is_causal)
  //   ─▶ Wo ─▶ Add; RMSNormalization ─▶ W1 ─▶ Gelu(tanh) ─▶ W2 ─▶ Add; final
  //   RMSNormalization ─▶ head.
  OnnxBuilder B(23);
  B.input("x", F32, {int64_t(2), int64_t(T), D});
  std::string X = "x";
  for (int L = 0; L < 2; ++L) {
    std::string P = "l" + std::to_string(L) + ".";
    B.floatInit(P + "n1", {D}, std::vector<float>(D, 1.0f));
    B.floatInit(P + "n2", {D}, std::vector<float>(D, 1.0f));
    B.node("RMSNormalization", {X, P + "n1"}, {P + "h"}, {{"epsilon", 1e-6f}}, "",
           P + "norm1");
    std::string Q = addLinear(B, P + "h", P + "wq", D, D, false);
    std::string K = addLinear(B, P + "h", P + "wk", D, D, false);
    std::string V = addLinear(B, P + "h", P + "wv", D, D, false);
    Attrs A{{"q_num_heads", int64_t(4)}, {"kv_num_heads", int64_t(4)},
            {"is_causal", int64_t(1)}};
    if (L == 1)
      A["scale"] = 0.125f;
    B.node("Attention", {Q, K, V}, {P + "ctx"}, A, "", P + "attn");
    std::string O = addLinear(B, P + "ctx", P + "wo", D, D, false);
    B.node("Add", {X, O}, {P + "r1"}, {}, "", P + "res1");
    B.node("RMSNormalization", {P + "r1", P + "n2"}, {P + "h2"}, {}, "", P + "norm2");
    std::string U = addLinear(B, P + "h2", P + "w1", D, Ff);
    B.node("Gelu", {U}, {P + "act"}, {{"approximate", std::string("tanh")}}, "",
           P + "gelu");
    std::string Dn = addLinear(B, P + "act", P + "w2", Ff, D);
    B.node("Add", {P + "r1", Dn}, {P + "r2"}, {}, "", P + "res2");
    X = P + "r2";
  }
  B.floatInit("nf", {D}, std::vector<float>(D, 1.0f));
  B.node("RMSNormalization", {X, "nf"}, {"hf"}, {}, "", "final_norm");
  addLinear(B, "hf", "head", D, 100, false);
  B.output("head.mm");
  Recovered R = recoverBuilt(B);

  REQUIRE(R.S.Blocks.size() == 2);
  for (const BlockInfo &Bl : R.S.Blocks) {
    INFO("block " << Bl.Index);
    CHECK(Bl.Norm == NormPlacement::Pre);
    CHECK(Bl.Attention->Heads == 4);
    CHECK(Bl.Attention->HeadDim == 8);
    CHECK(Bl.Attention->Mask == MaskKind::Causal);
    CHECK(Bl.Ffn->Activation == "gelu_tanh");
    CHECK(Bl.Residuals.size() == 2);
    CHECK(Bl.Norms.size() == 2);
    CHECK(Bl.Norms[0].Form == "RMSNormalization");
  }
  CHECK(R.S.Blocks[0].Attention->Scale == Approx(1 / std::sqrt(8.0)));
  CHECK(R.S.Blocks[1].Attention->Scale == Approx(0.125));
  REQUIRE(R.S.FinalNorms.size() == 1);
  CHECK(R.nodeName(R.S.FinalNorms[0].Nodes[0]) == "final_norm");
  CHECK(R.nodeName(R.S.Head) == "head/MatMul");
  CHECK(R.S.Unassigned.empty());
  CHECK(R.S.blockOf(R.node("l1.attn")) == 1);
  CHECK(R.S.blockOf(R.node("final_norm")) == -1);
  CHECK(R.S.roleOf(*R.M, "l1.wq.weight").Phrase == "block 1 attention query projection");
  CHECK(R.S.roleOf(*R.M, "l0.n2").Phrase == "block 0 feed-forward rmsnorm gamma");
  CHECK(R.S.roleOf(*R.M, "head.weight").Kind == "head");
}
