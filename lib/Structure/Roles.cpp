//===- Roles.cpp - what each parameter is, in the user's terms ------------===//
#include "Match.h"
#include "gradlint/Structure/SubParameters.h"
#include <set>

using namespace gradlint;
using namespace gradlint::structure;

llvm::StringRef gradlint::normKindName(NormKind K) {
  switch (K) {
  case NormKind::LayerNorm:
    return "layernorm";
  case NormKind::RMSNorm:
    return "rmsnorm";
  }
  return "";
}

llvm::StringRef gradlint::normPlacementName(NormPlacement P) {
  switch (P) {
  case NormPlacement::Pre:
    return "pre";
  case NormPlacement::Post:
    return "post";
  case NormPlacement::None:
    return "none";
  }
  return "";
}

llvm::StringRef gradlint::maskKindName(MaskKind K) {
  switch (K) {
  case MaskKind::None:
    return "none";
  case MaskKind::Causal:
    return "causal";
  case MaskKind::Padding:
    return "padding";
  case MaskKind::Other:
    return "other";
  }
  return "";
}

int ModelStructure::blockOf(NodeId N) const {
  return N < NodeBlock.size() ? NodeBlock[N] : -1;
}

ModelStructure::Role ModelStructure::roleOf(const Model &M,
                                            llvm::StringRef ParameterName) const {
  auto It = Roles.find(ParameterName.str());
  if (It != Roles.end())
    return It->second;
  // Not a recognized role: say at least which block uses it.
  Role R;
  ValueId V = M.G.findValue(ParameterName);
  if (V == NoId)
    return R;
  std::set<int> Blocks;
  for (NodeId U : M.G.Values[V].Users)
    Blocks.insert(blockOf(U));
  if (Blocks.size() == 1 && *Blocks.begin() >= 0) {
    R.Block = *Blocks.begin();
    R.Phrase = "block " + std::to_string(R.Block);
  }
  return R;
}

namespace {

/// Collects the uses of every parameter name, then summarizes shared ones.
class RoleTable {
public:
  explicit RoleTable(const Graph &G) : G(G) {}

  /// Registers Param, and the Identity aliases of it that Candidates read,
  /// as playing Kind in Block.
  void use(llvm::ArrayRef<NodeId> Candidates, ValueId Param, int Block,
           const std::string &Kind, const std::string &Phrase) {
    if (Param == NoId)
      return;
    std::vector<NodeId> Nodes;
    for (NodeId C : Candidates) {
      if (C == NoId)
        continue;
      Nodes.push_back(C);
      for (ValueId O : G.Nodes[C].Outputs) // a bias Add after the product
        if (O != NoId)
          for (NodeId U : G.Values[O].Users)
            Nodes.push_back(U);
    }
    bool Seen = false;
    for (NodeId N : Nodes)
      for (ValueId In : G.Nodes[N].Inputs)
        Seen |= chain(In, Param, Block, Kind, Phrase);
    if (!Seen)
      add(Param, Block, Kind, Phrase);
  }

  void useName(const std::string &Name, int Block, const std::string &Kind,
               const std::string &Phrase) {
    Uses[Name].push_back({Block, Kind, Phrase});
  }

  std::map<std::string, ModelStructure::Role> finish() const {
    std::map<std::string, ModelStructure::Role> Out;
    for (const auto &[Name, List] : Uses) {
      ModelStructure::Role R = List.front();
      std::set<std::string> Phrases;
      for (const ModelStructure::Role &U : List) {
        if (U.Block != R.Block)
          R.Block = -1;
        Phrases.insert(U.Phrase);
      }
      if (Phrases.size() > 1) {
        R.Phrase = "shared: ";
        unsigned I = 0;
        for (const std::string &P : Phrases) {
          if (I == 3) {
            R.Phrase += ", ... (" + std::to_string(Phrases.size()) + " uses)";
            break;
          }
          R.Phrase += (I++ ? ", " : "") + P;
        }
      }
      Out[Name] = R;
    }
    return Out;
  }

private:
  /// Walks up from an operand through Identity/Cast/Transpose; when the
  /// walk reaches Param, registers every initializer or alias name on it.
  bool chain(ValueId V, ValueId Param, int Block, const std::string &Kind,
             const std::string &Phrase) {
    llvm::SmallVector<ValueId, 4> Names;
    for (unsigned Depth = 0; V != NoId && Depth < 8; ++Depth) {
      const Node *P = producer(G, V);
      if (V == Param || (P && P->Kind == OpKind::Identity))
        Names.push_back(V);
      if (V == Param) {
        for (ValueId N : Names)
          add(N, Block, Kind, Phrase);
        return true;
      }
      if (!P || (P->Kind != OpKind::Identity && P->Kind != OpKind::Cast &&
                 P->Kind != OpKind::Transpose))
        return false;
      V = P->input(0);
    }
    return false;
  }

  void add(ValueId V, int Block, const std::string &Kind, const std::string &Phrase) {
    if (!G.Values[V].Name.empty())
      useName(G.Values[V].Name, Block, Kind, Phrase);
  }

  const Graph &G;
  std::map<std::string, std::vector<ModelStructure::Role>> Uses;
};

std::string where(int Block) {
  return Block >= 0 ? "block " + std::to_string(Block) + " " : "";
}

std::string sublayerWord(const NormInfo &N) {
  if (N.Sublayer == "ffn")
    return "feed-forward ";
  if (N.Sublayer == "cross_attention")
    return "cross-attention ";
  if (N.Sublayer.empty())
    return "";
  return N.Sublayer + " ";
}

void normRoles(RoleTable &T, const NormInfo &N, int Block) {
  std::string What = where(Block) + sublayerWord(N) + normKindName(N.Kind).str();
  T.use(N.Nodes, N.Gamma, Block, "norm.gamma", What + " gamma");
  T.use(N.Nodes, N.Beta, Block, "norm.beta", What + " beta");
}

} // namespace

namespace gradlint::structure {

void assignRoles(const Model &M, ModelStructure &S) {
  const Graph &G = M.G;
  RoleTable T(G);
  auto Projection = [&](int B, NodeId Node, ValueId W, ValueId Bias,
                        const std::string &Kind, const std::string &What) {
    T.use(Node, W, B, Kind, where(B) + What);
    T.use(Node, Bias, B, Kind + ".bias", where(B) + What + " bias");
  };
  for (const BlockInfo &B : S.Blocks) {
    int I = static_cast<int>(B.Index);
    for (const auto *A : {&B.Attention, &B.CrossAttention}) {
      if (!*A)
        continue;
      const AttentionInfo &At = **A;
      std::string K = A == &B.Attention ? "attention" : "cross_attention";
      std::string W = A == &B.Attention ? "attention" : "cross-attention";
      if (At.FusedQkv) {
        Projection(I, At.Q, At.QWeight, At.QBias, K + ".qkv",
                   W + " fused query/key/value projection");
      } else {
        Projection(I, At.Q, At.QWeight, At.QBias, K + ".q", W + " query projection");
        if (At.K == At.V && At.K != NoId) {
          Projection(I, At.K, At.KWeight, At.KBias, K + ".kv",
                     W + " fused key/value projection");
        } else {
          Projection(I, At.K, At.KWeight, At.KBias, K + ".k", W + " key projection");
          Projection(I, At.V, At.VWeight, At.VBias, K + ".v", W + " value projection");
        }
      }
      Projection(I, At.Out, At.OutWeight, At.OutBias, K + ".out",
                 W + " output projection");
    }
    if (const auto &F = B.Ffn) {
      if (F->Gated && F->Gate == F->Up) {
        Projection(I, F->Up, F->UpWeight, F->UpBias, "ffn.gate_up",
                   "feed-forward fused gate/up projection");
      } else {
        Projection(I, F->Up, F->UpWeight, F->UpBias, "ffn.up",
                   "feed-forward up projection");
        if (F->Gated)
          Projection(I, F->Gate, F->GateWeight, F->GateBias, "ffn.gate",
                     "feed-forward gate projection");
      }
      Projection(I, F->Down, F->DownWeight, F->DownBias, "ffn.down",
                 "feed-forward down projection");
    }
    for (const NormInfo &N : B.Norms)
      normRoles(T, N, I);
  }
  for (const NormInfo &N : S.EmbeddingNorms)
    normRoles(T, N, -1);
  for (const NormInfo &N : S.FinalNorms)
    normRoles(T, N, -1);
  for (const EmbeddingInfo &E : S.Embeddings) {
    const char *Kind = E.Positional ? "embedding.position" : "embedding.token";
    const char *What = E.Positional ? "position embedding table" : "token embedding table";
    NodeId User = E.Gather != NoId ? E.Gather : E.Add;
    T.use({User}, E.Table, -1, Kind, What);
  }
  T.use(S.Head, S.HeadWeight, -1, "head", "LM head");
  T.use(S.Head, S.HeadBias, -1, "head.bias", "LM head bias");

  // Column blocks of fused projections.
  for (const SubParameter &P : findSubParameters(M, S)) {
    int B = S.blockOf(P.Product);
    std::string Kind, What;
    if (P.Tag == "q" || P.Tag == "k" || P.Tag == "v") {
      static const std::map<std::string, std::pair<const char *, const char *>> Qkv = {
          {"q", {".q", " query projection"}},
          {"k", {".k", " key projection"}},
          {"v", {".v", " value projection"}}};
      bool Cross = B >= 0 && S.Blocks[B].CrossAttention &&
                   llvm::is_contained(S.Blocks[B].CrossAttention->Nodes, P.Product);
      Kind = std::string(Cross ? "cross_attention" : "attention") + Qkv.at(P.Tag).first;
      What = std::string(Cross ? "cross-attention" : "attention") + Qkv.at(P.Tag).second;
    } else if (B >= 0 && S.Blocks[B].Ffn && S.Blocks[B].Ffn->Gated &&
               S.Blocks[B].Ffn->Up == P.Product) {
      const FfnInfo &F = *S.Blocks[B].Ffn;
      bool Gate = P.Part == F.GateValue;
      bool Up = P.Part == F.UpValue;
      Kind = Gate ? "ffn.gate" : Up ? "ffn.up" : "";
      What = Gate ? "feed-forward gate projection"
                  : Up ? "feed-forward up projection" : "feed-forward projection part";
    } else {
      What = "projection part " + P.Tag;
    }
    T.useName(P.Name, B, Kind,
              where(B) + What + " (columns " + std::to_string(P.Begin) + "-" +
                  std::to_string(P.End) + " of " + G.Values[P.Weight].Name + ")");
  }
  S.Roles = T.finish();
}

} // namespace gradlint::structure
