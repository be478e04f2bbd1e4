//===- AttentionPatternsTest.cpp - unfused attention variants -------------===//
//
// One attention layer built by hand in each of the ways exporters scale the
// logits and mask them; the expected heads, scale and mask are the ones the
// builder wrote.
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include <catch2/catch.hpp>
#include <cmath>

using namespace gradlint;
using namespace gradlint::test;

namespace {

constexpr int64_t T = 8, H = 4, Dh = 8, D = H * Dh;

enum class ScaleStyle { DivLogits, MulLogits, SqrtOnQK, DivQ, None };
enum class MaskStyle { None, TriluAdd, WhereBuffer, FoldedAdditive, PaddingInput };

struct Variant {
  const char *Name;
  ScaleStyle Scale;
  MaskStyle Mask;
  bool Rope = false;
  bool Softcap = false;
  double LogitScale = 1; ///< the multiplier the builder puts on QKᵀ
};

std::vector<float> ramp(size_t N, float Step) {
  std::vector<float> V(N);
  for (size_t I = 0; I < N; ++I)
    V[I] = Step * static_cast<float>(I % 17);
  return V;
}

/// q ─▶ q·cos + rotate_half(q)·sin over the last axis of a [1, H, T, Dh] value.
std::string rope(OnnxBuilder &B, const std::string &X, const std::string &P) {
  B.floatInit(P + "cos", {T, Dh}, ramp(T * Dh, 0.05f));
  B.floatInit(P + "sin", {T, Dh}, ramp(T * Dh, 0.03f));
  B.int64Init(P + "lo.s", {1}, {0});
  B.int64Init(P + "lo.e", {1}, {Dh / 2});
  B.int64Init(P + "hi.e", {1}, {Dh});
  B.int64Init(P + "ax", {1}, {-1});
  B.node("Slice", {X, P + "lo.s", P + "lo.e", P + "ax"}, {P + "x1"});
  B.node("Slice", {X, P + "lo.e", P + "hi.e", P + "ax"}, {P + "x2"});
  B.node("Neg", {P + "x2"}, {P + "nx2"});
  B.node("Concat", {P + "nx2", P + "x1"}, {P + "rot"}, {{"axis", int64_t(-1)}});
  B.node("Mul", {X, P + "cos"}, {P + "xc"});
  B.node("Mul", {P + "rot", P + "sin"}, {P + "rs"});
  B.node("Add", {P + "xc", P + "rs"}, {P + "out"});
  return P + "out";
}

/// x ─▶ attention ─▶ Wo ─▶ Add(x) as the variant says; output "y".
OnnxBuilder buildAttention(const Variant &V) {
  OnnxBuilder B(17);
  B.input("x", F32, {int64_t(1), T, D});
  std::string Q = addLinear(B, "x", "wq", D, D);
  std::string K = addLinear(B, "x", "wk", D, D);
  std::string Val = addLinear(B, "x", "wv", D, D);
  B.int64Init("heads_shape", {4}, {1, T, H, Dh});
  B.int64Init("merged_shape", {3}, {1, T, D});
  auto Heads = [&](const std::string &In, const std::string &Out) {
    B.node("Reshape", {In, "heads_shape"}, {Out + ".r"});
    B.node("Transpose", {Out + ".r"}, {Out}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  };
  Heads(Q, "qh");
  Heads(K, "kh");
  Heads(Val, "vh");
  std::string Qh = "qh", Kh = "kh";
  if (V.Rope) {
    Qh = rope(B, Qh, "rq.");
    Kh = rope(B, Kh, "rk.");
  }
  B.node("Transpose", {Kh}, {"kt"}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  std::string Kt = "kt";
  double Sqrt = std::pow(static_cast<double>(Dh), -0.25);
  if (V.Scale == ScaleStyle::SqrtOnQK) {
    B.constantFloat("sq", {}, {static_cast<float>(Sqrt)});
    B.node("Mul", {Qh, "sq"}, {"qs"});
    B.node("Mul", {Kt, "sq"}, {"ks"});
    Qh = "qs";
    Kt = "ks";
  } else if (V.Scale == ScaleStyle::DivQ) {
    B.constantFloat("sd", {}, {std::sqrt(static_cast<float>(Dh))});
    B.node("Div", {Qh, "sd"}, {"qs"});
    Qh = "qs";
  }
  B.node("MatMul", {Qh, Kt}, {"scores"}, {}, "", "qk");
  std::string S = "scores";
  if (V.Scale == ScaleStyle::DivLogits) {
    B.constantFloat("c", {}, {std::sqrt(static_cast<float>(Dh))});
    B.node("Div", {S, "c"}, {"scaled"});
    S = "scaled";
  } else if (V.Scale == ScaleStyle::MulLogits) {
    B.constantFloat("c", {}, {static_cast<float>(V.LogitScale)});
    B.node("Mul", {"c", S}, {"scaled"});
    S = "scaled";
  }
  switch (V.Mask) {
  case MaskStyle::None:
    break;
  case MaskStyle::TriluAdd:
    B.int64Init("tt", {2}, {T, T});
    B.constantFloat("one", {}, {1.0f});
    B.node("Expand", {"one", "tt"}, {"ones"});
    B.node("Trilu", {"ones"}, {"tril"}, {{"upper", int64_t(0)}});
    B.node("Sub", {"one", "tril"}, {"above"});
    B.constantFloat("big", {}, {-1e9f});
    B.node("Mul", {"above", "big"}, {"mask"});
    B.node("Add", {S, "mask"}, {"masked"}, {}, "", "mask_add");
    S = "masked";
    break;
  case MaskStyle::WhereBuffer: {
    std::string Bits;
    for (int64_t I = 0; I < T; ++I)
      for (int64_t J = 0; J < T; ++J)
        Bits.push_back(J > I ? 1 : 0);
    B.rawInit("hidden", Bool, {1, 1, T, T}, Bits);
    B.constantFloat("ninf", {}, {-INFINITY});
    B.node("Where", {"hidden", "ninf", S}, {"masked"}, {}, "", "mask_where");
    S = "masked";
    break;
  }
  case MaskStyle::FoldedAdditive: {
    std::vector<float> M(T * T);
    for (int64_t I = 0; I < T; ++I)
      for (int64_t J = 0; J < T; ++J)
        M[I * T + J] = J > I ? -3.4e38f : 0.0f;
    B.floatInit("bias", {T, T}, M);
    B.node("Add", {"bias", S}, {"masked"}, {}, "", "mask_add");
    S = "masked";
    break;
  }
  case MaskStyle::PaddingInput:
    B.input("attention_mask", I64, {int64_t(1), T});
    B.node("Cast", {"attention_mask"}, {"amf"}, {{"to", int64_t(F32)}});
    B.constantFloat("one", {}, {1.0f});
    B.node("Sub", {"one", "amf"}, {"inv"});
    B.constantFloat("big", {}, {-1e4f});
    B.node("Mul", {"inv", "big"}, {"addm"});
    B.int64Init("uax", {2}, {1, 2});
    B.node("Unsqueeze", {"addm", "uax"}, {"mask"});
    B.node("Add", {S, "mask"}, {"masked"}, {}, "", "mask_add");
    S = "masked";
    break;
  }
  if (V.Softcap) {
    B.constantFloat("cap", {}, {30.0f});
    B.node("Div", {S, "cap"}, {"sc1"});
    B.node("Tanh", {"sc1"}, {"sc2"});
    B.node("Mul", {"sc2", "cap"}, {"capped"});
    S = "capped";
  }
  B.node("Softmax", {S}, {"p"}, {{"axis", int64_t(-1)}}, "", "softmax");
  B.node("MatMul", {"p", "vh"}, {"ctx"}, {}, "", "pv");
  B.node("Transpose", {"ctx"}, {"ctx.t"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  B.node("Reshape", {"ctx.t", "merged_shape"}, {"merged"});
  std::string O = addLinear(B, "merged", "wo", D, D);
  B.node("Add", {"x", O}, {"y"}, {}, "", "residual").output("y");
  return B;
}

const double InvSqrt = 1 / std::sqrt(static_cast<double>(Dh));

const Variant Variants[] = {
    {"Div on the logits, Trilu causal mask", ScaleStyle::DivLogits, MaskStyle::TriluAdd, false, false, InvSqrt},
    {"Mul on the logits, Where over a bool buffer", ScaleStyle::MulLogits, MaskStyle::WhereBuffer, false, false, 0.3},
    {"sqrt(scale) on Q and on K^T (SDPA export)", ScaleStyle::SqrtOnQK, MaskStyle::FoldedAdditive, false, false, InvSqrt},
    {"Div on Q (nn.MultiheadAttention)", ScaleStyle::DivQ, MaskStyle::None, false, false, InvSqrt},
    {"unscaled, padding mask from an input", ScaleStyle::None, MaskStyle::PaddingInput, false, false, 1},
    {"rotary embedding on q and k", ScaleStyle::DivLogits, MaskStyle::TriluAdd, true, false, InvSqrt},
    {"softcapped logits", ScaleStyle::MulLogits, MaskStyle::None, false, true, 0.125},
};

} // namespace

TEST_CASE("structure: unfused attention variants give heads, scale and mask",
          "[structure][attention]") {
  for (const Variant &V : Variants) {
    INFO(V.Name);
    Recovered R = recoverBuilt(buildAttention(V));
    REQUIRE(R.S.Blocks.size() == 1);
    const BlockInfo &Bl = R.S.Blocks[0];
    CHECK(Bl.Norm == NormPlacement::None);
    CHECK(!Bl.Ffn);
    REQUIRE(Bl.Attention);
    const AttentionInfo &A = *Bl.Attention;
    CHECK(A.Heads == H);
    CHECK(A.KvHeads == H);
    CHECK(A.HeadDim == Dh);
    CHECK(A.ScaleKnown);
    CHECK(A.Scale == Approx(V.LogitScale).epsilon(1e-6));
    MaskKind Want = V.Mask == MaskStyle::None           ? MaskKind::None
                    : V.Mask == MaskStyle::PaddingInput ? MaskKind::Padding
                                                        : MaskKind::Causal;
    CHECK(maskKindName(A.Mask) == maskKindName(Want));
    CHECK(A.MaskNodes.size() == (V.Mask == MaskStyle::None ? 0u : 1u));
    CHECK(A.Rotary == V.Rope);
    CHECK(A.Softcap == (V.Softcap ? Approx(30.0) : Approx(0.0)));
    CHECK(R.nodeName(A.Q) == "wq/MatMul");
    CHECK(R.nodeName(A.K) == "wk/MatMul");
    CHECK(R.nodeName(A.V) == "wv/MatMul");
    CHECK(R.nodeName(A.Out) == "wo/MatMul");
    CHECK(R.nodeName(A.Scores) == "qk");
    CHECK(R.nodeName(A.Softmax) == "softmax");
    CHECK(R.nodeName(A.Context) == "pv");
    CHECK(R.valueName(A.QWeight) == "wq.weight");
    CHECK(R.valueName(A.OutBias) == "wo.bias");
    CHECK(R.valueName(A.Input) == "x");
    CHECK(R.valueName(A.Output) == "wo.out");
    CHECK(!A.FusedQkv);
    REQUIRE(Bl.Residuals.size() == 1);
    CHECK(R.nodeName(Bl.Residuals[0].Add) == "residual");
    CHECK(R.S.Unassigned.empty());
  }
}

TEST_CASE("structure: fused QKV cut by Split, and by Slice, names q, k, v",
          "[structure][attention]") {
  for (bool UseSlice : {false, true}) {
    INFO((UseSlice ? "Slice" : "Split"));
    OnnxBuilder B(17);
    B.input("x", F32, {int64_t(1), T, D});
    std::string Qkv = addLinear(B, "x", "c_attn", D, 3 * D);
    if (UseSlice) {
      B.int64Init("ax", {1}, {-1});
      for (int I = 0; I < 3; ++I) {
        std::string P = std::to_string(I);
        B.int64Init("s" + P, {1}, {I * D});
        B.int64Init("e" + P, {1}, {(I + 1) * D});
        B.node("Slice", {Qkv, "s" + P, "e" + P, "ax"}, {"part" + P});
      }
    } else {
      B.int64Init("sizes", {3}, {D, D, D});
      B.node("Split", {Qkv, "sizes"}, {"part0", "part1", "part2"}, {{"axis", int64_t(2)}});
    }
    B.int64Init("heads_shape", {4}, {1, T, H, Dh});
    B.int64Init("merged_shape", {3}, {1, T, D});
    B.node("Reshape", {"part0", "heads_shape"}, {"q.r"})
        .node("Transpose", {"q.r"}, {"q"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
        .node("Reshape", {"part1", "heads_shape"}, {"k.r"})
        .node("Transpose", {"k.r"}, {"kt"}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}})
        .node("Reshape", {"part2", "heads_shape"}, {"v.r"})
        .node("Transpose", {"v.r"}, {"v"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
        .node("MatMul", {"q", "kt"}, {"s"})
        .node("Softmax", {"s"}, {"p"}, {{"axis", int64_t(-1)}})
        .node("MatMul", {"p", "v"}, {"ctx"})
        .node("Transpose", {"ctx"}, {"ctx.t"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
        .node("Reshape", {"ctx.t", "merged_shape"}, {"merged"});
    std::string O = addLinear(B, "merged", "c_proj", D, D);
    B.output(O);
    Recovered R = recoverBuilt(B);
    REQUIRE(R.S.Blocks.size() == 1);
    const AttentionInfo &A = *R.S.Blocks[0].Attention;
    CHECK(A.FusedQkv);
    CHECK(A.Q == A.K);
    CHECK(R.valueName(A.QWeight) == "c_attn.weight");
    CHECK(R.valueName(A.QValue) == "part0");
    CHECK(R.valueName(A.KValue) == "part1");
    CHECK(R.valueName(A.VValue) == "part2");
    CHECK(A.Heads == H);
    CHECK(A.Scale == 1);
    CHECK(R.S.Blocks[0].Residuals.empty());
    auto Role = R.S.roleOf(*R.M, "c_attn.weight[k]");
    CHECK(Role.Block == 0);
    CHECK(Role.Kind == "attention.k");
    CHECK(R.S.roleOf(*R.M, "c_attn.weight").Kind == "attention.qkv");
  }
}

TEST_CASE("structure: a decoder layer's cross-attention joins its block",
          "[structure][attention]") {
  // Post-norm decoder layer (as in nn.TransformerDecoderLayer):
  //   y ─▶ self-attention ─▶ Add ─▶ LN ─▶ cross-attention(memory) ─▶ Add ─▶ LN ─▶ FFN ─▶ Add ─▶ LN
  OnnxBuilder B(17);
  B.input("y", F32, {int64_t(1), T, D});
  B.input("memory", F32, {int64_t(1), int64_t(2 * T), D});
  B.int64Init("q_shape", {4}, {1, T, H, Dh});
  B.int64Init("kv_shape", {4}, {1, 2 * T, H, Dh});
  B.int64Init("merged_shape", {3}, {1, T, D});
  auto Attention = [&](const std::string &P, const std::string &X, const std::string &Kv,
                       const std::string &KvShape) {
    std::string Q = addLinear(B, X, P + "wq", D, D);
    std::string K = addLinear(B, Kv, P + "wk", D, D);
    std::string V = addLinear(B, Kv, P + "wv", D, D);
    B.node("Reshape", {Q, "q_shape"}, {P + "q.r"})
        .node("Transpose", {P + "q.r"}, {P + "q"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
        .node("Reshape", {K, KvShape}, {P + "k.r"})
        .node("Transpose", {P + "k.r"}, {P + "kt"}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}})
        .node("Reshape", {V, KvShape}, {P + "v.r"})
        .node("Transpose", {P + "v.r"}, {P + "v"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
        .node("MatMul", {P + "q", P + "kt"}, {P + "s"})
        .constantFloat(P + "c", {}, {std::sqrt(static_cast<float>(Dh))})
        .node("Div", {P + "s", P + "c"}, {P + "ss"})
        .node("Softmax", {P + "ss"}, {P + "p"}, {{"axis", int64_t(-1)}})
        .node("MatMul", {P + "p", P + "v"}, {P + "ctx"})
        .node("Transpose", {P + "ctx"}, {P + "ctx.t"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
        .node("Reshape", {P + "ctx.t", "merged_shape"}, {P + "merged"});
    std::string O = addLinear(B, P + "merged", P + "wo", D, D);
    B.node("Add", {X, O}, {P + "sum"});
    B.floatInit(P + "g", {D}, std::vector<float>(D, 1.0f));
    B.floatInit(P + "b", {D}, std::vector<float>(D, 0.0f));
    B.node("LayerNormalization", {P + "sum", P + "g", P + "b"}, {P + "out"}, {}, "", P + "norm");
    return P + "out";
  };
  std::string X = Attention("self.", "y", "y", "q_shape");
  X = Attention("cross.", X, "memory", "kv_shape");
  std::string U = addLinear(B, X, "w1", D, 64);
  B.node("Relu", {U}, {"act"});
  std::string Dn = addLinear(B, "act", "w2", 64, D);
  B.node("Add", {X, Dn}, {"sum3"});
  B.floatInit("g3", {D}, std::vector<float>(D, 1.0f));
  B.floatInit("b3", {D}, std::vector<float>(D, 0.0f));
  B.node("LayerNormalization", {"sum3", "g3", "b3"}, {"out"}).output("out");
  Recovered R = recoverBuilt(B);

  REQUIRE(R.S.Blocks.size() == 1);
  const BlockInfo &Bl = R.S.Blocks[0];
  CHECK(Bl.Norm == NormPlacement::Post);
  REQUIRE(Bl.Attention);
  REQUIRE(Bl.CrossAttention);
  REQUIRE(Bl.Ffn);
  CHECK(!Bl.Attention->isCross());
  CHECK(Bl.CrossAttention->isCross());
  CHECK(R.valueName(Bl.CrossAttention->KvInput) == "memory");
  CHECK(R.nodeName(Bl.CrossAttention->K) == "cross.wk/MatMul");
  CHECK(Bl.CrossAttention->Heads == H);
  CHECK(Bl.Residuals.size() == 3);
  CHECK(Bl.Norms.size() == 3);
  CHECK(R.S.Unassigned.empty());
  CHECK(R.S.roleOf(*R.M, "cross.wv.weight").Phrase ==
        "block 0 cross-attention value projection");
  CHECK(R.S.roleOf(*R.M, "cross.g").Phrase == "block 0 cross-attention layernorm gamma");
}
