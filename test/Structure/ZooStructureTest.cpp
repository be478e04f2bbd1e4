//===- ZooStructureTest.cpp - structure of real torch exports -------------===//
//
// Every zoo model's recovered structure against the facts its constructor
// recorded in meta.json (never against gradlint's own output): block count,
// norm placement and type, heads, head dim, effective logit scale, mask,
// residuals, activation, fused QKV, final norm, embeddings and head. The
// sub-parameter names must be the ones the PyTorch oracle (torch.json) uses.
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include "Zoo.h"
#include "gradlint/Structure/SubParameters.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

using namespace gradlint;
using namespace gradlint::test;

namespace {

std::string str(const llvm::json::Object &O, llvm::StringRef Key) {
  if (auto S = O.getString(Key))
    return S->str();
  return "";
}

/// Checks one block against the constructor's facts.
void checkBlock(const BlockInfo &B, const llvm::json::Object &Meta) {
  INFO("block " << B.Index);
  CHECK(normPlacementName(B.Norm) == str(Meta, "norm"));
  REQUIRE(B.Attention);
  const AttentionInfo &A = *B.Attention;
  CHECK(A.Heads == *Meta.getInteger("heads"));
  CHECK(A.KvHeads == *Meta.getInteger("heads"));
  CHECK(A.HeadDim == *Meta.getInteger("d_head"));
  double Scale = *Meta.getNumber("attention_scale");
  CHECK(A.ScaleKnown);
  CHECK(std::fabs(A.Scale - Scale) <= 1e-6 * Scale);
  CHECK(maskKindName(A.Mask) == str(Meta, "mask"));
  CHECK(A.FusedQkv == *Meta.getBoolean("fused_qkv"));
  CHECK(A.Softmax != NoId);
  CHECK(A.Scores != NoId);
  CHECK(A.Context != NoId);
  CHECK(A.Q != NoId);
  CHECK(A.K != NoId);
  CHECK(A.V != NoId);
  CHECK(A.Out != NoId);
  CHECK(A.QWeight != NoId);
  CHECK(A.OutWeight != NoId);
  REQUIRE(B.Ffn);
  CHECK(B.Ffn->Activation == str(Meta, "activation"));
  CHECK(B.Ffn->Up != NoId);
  CHECK(B.Ffn->Down != NoId);
  CHECK(B.Ffn->Gated == (str(Meta, "activation") == "swiglu"));
  if (*Meta.getBoolean("residual")) {
    CHECK(B.Residuals.size() == 2);
  } else {
    CHECK(B.Residuals.empty());
  }
  std::string NormType = str(Meta, "norm_type");
  unsigned Placed = 0;
  for (const NormInfo &N : B.Norms) {
    Placed += N.Placement != NormPlacement::None;
    CHECK(normKindName(N.Kind) == NormType);
    CHECK(N.Axis == -1);
    CHECK(N.Gamma != NoId);
    CHECK((N.Beta != NoId) == (N.Kind == NormKind::LayerNorm));
    CHECK(N.Epsilon > 0);
    CHECK(N.Epsilon < 1e-4);
  }
  CHECK(Placed == (str(Meta, "norm") == "none" ? 0u : 2u));
}

} // namespace

TEST_CASE("zoo: recovered structure matches each model's constructor",
          "[zoo][structure]") {
  std::vector<ZooModel> Zoo = zooModels();
  unsigned Transformers = 0, Negatives = 0;
  for (const ZooModel &Z : Zoo) {
    INFO("model " << Z.Name);
    Recovered R = recoverFile(Z.modelPath(), Z.dims());
    const ModelStructure &S = R.S;
    const llvm::json::Object &Meta = Z.Meta;
    CHECK(S.Blocks.size() == static_cast<size_t>(*Meta.getInteger("blocks")));
    if (str(Meta, "kind") == "mlp") {
      // Not a transformer: nothing may look like attention.
      ++Negatives;
      CHECK(S.Blocks.empty());
      CHECK(S.Head == NoId);
      continue;
    }
    ++Transformers;
    for (const BlockInfo &B : S.Blocks)
      checkBlock(B, Meta);
    if (auto Final = Meta.getBoolean("final_norm")) {
      CHECK(S.FinalNorms.size() == (*Final ? 1u : 0u));
    }
    CHECK(S.Unassigned.empty());

    // Embeddings and head follow from the model's inputs and loss.
    bool Ids = str(Meta, "loss") == "ce";
    unsigned Tokens = 0, Positions = 0;
    for (const EmbeddingInfo &E : S.Embeddings)
      ++(E.Positional ? Positions : Tokens);
    CHECK(Tokens == (Ids ? 1u : 0u));
    CHECK(Positions == (str(Meta, "positions") == "learned" ? 1u : 0u));
    CHECK((S.Head != NoId) == Ids);

    // Every parameter the oracle knows has a role; sub-parameters have the
    // oracle's names and the role their block of columns plays.
    llvm::json::Value Torch = readJson(Z.Dir + "/torch.json");
    const llvm::json::Array *Params =
        Torch.getAsObject()->getObject("seed0")->getArray("parameters");
    std::set<std::string> OracleSubs;
    for (const llvm::json::Value &P : *Params) {
      const llvm::json::Object &O = *P.getAsObject();
      std::string Name = str(O, "name");
      INFO("parameter " << Name);
      ModelStructure::Role Role = S.roleOf(*R.M, Name);
      CHECK(!Role.Kind.empty());
      CHECK(!Role.Phrase.empty());
      if (O.getString("parent")) {
        OracleSubs.insert(Name);
        char Tag = Name[Name.size() - 2];
        if (Tag == 'q' || Tag == 'k' || Tag == 'v')
          CHECK(Role.Kind == std::string("attention.") + Tag);
        else
          CHECK((Role.Kind == "ffn.gate" || Role.Kind == "ffn.up"));
        CHECK(Role.Block >= 0);
      }
    }
    std::set<std::string> Ours;
    for (const SubParameter &P : findSubParameters(*R.M, S))
      Ours.insert(P.Name);
    CHECK(Ours == OracleSubs);
  }
  // Issue 3's acceptance: at least 16 transformer configurations.
  CHECK(Transformers >= 16);
  CHECK(Negatives >= 1);
}

TEST_CASE("zoo: roles name blocks the way the user wrote them",
          "[zoo][structure]") {
  std::vector<ZooModel> Zoo = zooModels();
  for (const ZooModel &Z : Zoo) {
    if (Z.Name != "gpt_L2_d64")
      continue;
    Recovered R = recoverFile(Z.modelPath(), Z.dims());
    // GPT-2 layout: c_attn is split into q, k, v (a folded initializer).
    const AttentionInfo &A = *R.S.Blocks[1].Attention;
    std::string Fused = R.valueName(A.QWeight);
    auto Q = R.S.roleOf(*R.M, Fused + "[q]");
    CHECK(Q.Block == 1);
    CHECK(Q.Kind == "attention.q");
    CHECK(Q.Phrase.rfind("block 1 attention query projection", 0) == 0);
    CHECK(R.S.roleOf(*R.M, Fused).Kind == "attention.qkv");
    CHECK(R.S.roleOf(*R.M, "h.1.attn.c_attn.bias").Kind == "attention.qkv.bias");
    CHECK(R.S.roleOf(*R.M, "wte.weight").Kind == "embedding.token");
    CHECK(R.S.roleOf(*R.M, "wpe.weight").Kind == "embedding.position");
    auto Gamma = R.S.roleOf(*R.M, "h.1.ln_2.weight"); // an Identity alias
    CHECK(Gamma.Block == 1);
    CHECK(Gamma.Kind == "norm.gamma");
    CHECK(Gamma.Phrase == "block 1 feed-forward layernorm gamma");
    // The deduplicated initializer behind every LayerNorm weight is shared.
    auto Shared = R.S.roleOf(*R.M, "h.0.ln_1.weight");
    CHECK(Shared.Block == -1);
    CHECK(Shared.Kind == "norm.gamma");
    CHECK(R.S.roleOf(*R.M, "ln_f.weight").Phrase == "final layernorm gamma");
    CHECK(R.S.roleOf(*R.M, R.valueName(R.S.HeadWeight)).Kind == "head");
    CHECK(R.S.roleOf(*R.M, "no.such.parameter").Kind.empty());
    return;
  }
  FAIL("gpt_L2_d64 not in the zoo");
}
