//===- Blocks.cpp - residuals, blocks, embeddings, head -------------------===//
//
// The recognizers find sublayers (attention, feed-forward) and norms; this
// file strings them on the residual stream:
//
//   pre-norm:   x ─┬─▶ Norm ─▶ Sublayer ─┐        post-norm:  x ─┬─▶ Sublayer ─┐
//                  └──────────────────── Add ─▶                   └──────────── Add ─▶ Norm ─▶
//
// Each attention opens a block; the feed-forward layer after it (before the
// next attention) joins it. A residual is an Add of a sublayer's output and
// a value computed before the sublayer's input (or a Skip(Simplified)
// LayerNormalization doing that Add). Nodes that only feed one part (shape
// arithmetic, masks, weight aliases) join the earliest part they feed.
//
//===----------------------------------------------------------------------===//
#include "Match.h"
#include "gradlint/Structure/SubParameters.h"
#include <algorithm>

using namespace gradlint;
using namespace gradlint::structure;

namespace {

bool isSkipNorm(OpKind K) {
  return K == OpKind::SkipLayerNormalization ||
         K == OpKind::SkipSimplifiedLayerNormalization;
}

bool sameShape(const Graph &G, ValueId A, ValueId B) {
  const Value &X = G.Values[A], &Y = G.Values[B];
  return !X.HasShape || !Y.HasShape || X.Shape == Y.Shape;
}

/// One attention or feed-forward layer on the residual stream.
struct Sublayer {
  bool IsAttention = false;
  unsigned Index = 0;
  ValueId Input = NoId, Output = NoId;
  size_t Position = 0;
  std::optional<ResidualInfo> Residual;
  int PreNorm = -1, PostNorm = -1;
};

std::optional<ResidualInfo> residualOf(const Graph &G, const Sublayer &S) {
  const Value &O = G.Values[S.Output];
  for (NodeId U : O.Users) {
    const Node &N = G.Nodes[U];
    bool Skip = isSkipNorm(N.Kind);
    if ((N.Kind != OpKind::Add && !Skip) || N.Outputs.empty())
      continue;
    unsigned Mine = N.input(0) == S.Output ? 0 : 1;
    if (N.input(Mine) != S.Output)
      continue;
    ValueId X = N.input(1 - Mine);
    if (X == NoId || X == S.Output || isConstant(G, X) ||
        !sameShape(G, X, S.Output) || !isAncestorOrSelf(G, X, S.Input))
      continue;
    ResidualInfo R;
    R.Add = U;
    R.Skip = X;
    R.Branch = S.Output;
    if (!Skip)
      R.Output = N.Outputs[0];
    else if (N.Outputs.size() > 3 && N.Outputs[3] != NoId &&
             !G.Values[N.Outputs[3]].Users.empty())
      R.Output = N.Outputs[3];
    return R;
  }
  return std::nullopt;
}

/// Topological position of a value's producer (0 for graph inputs).
size_t positionOf(const Graph &G, const std::vector<size_t> &Pos, ValueId V) {
  if (V == NoId || G.Values[V].Producer == NoId)
    return 0;
  return Pos[G.Values[V].Producer];
}

size_t lastPosition(const std::vector<size_t> &Pos,
                    const std::vector<NodeId> &Nodes) {
  size_t P = 0;
  for (NodeId N : Nodes)
    P = std::max(P, Pos[N]);
  return P;
}

/// Whether an index value depends on the data (not just the shape) of a
/// graph input; position ids computed from Shape/Range do not.
bool readsInputData(const Graph &G, ValueId V) {
  std::vector<char> Seen(G.Values.size(), 0);
  std::vector<ValueId> Stack{V};
  while (!Stack.empty()) {
    ValueId X = Stack.back();
    Stack.pop_back();
    if (X == NoId || Seen[X])
      continue;
    Seen[X] = 1;
    if (G.Values[X].IsInput)
      return llvm::StringRef(G.Values[X].Name).lower().find("position") ==
             std::string::npos;
    const Node *P = producer(G, X);
    if (!P || P->Kind == OpKind::Shape || P->Kind == OpKind::Size)
      continue;
    for (ValueId In : P->Inputs)
      Stack.push_back(In);
  }
  return false;
}

void findEmbeddings(const Graph &G, ModelStructure &S) {
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    if (N.Kind != OpKind::Gather || N.Outputs.empty() || N.getInt("axis", 0) != 0)
      continue;
    ValueId Table = parameterOf(G, N.input(0));
    const TensorData *T = G.initializer(Table);
    ValueId Idx = N.input(1);
    if (!T || T->Shape.size() != 2 || Idx == NoId ||
        isFloatingPoint(G.Values[Idx].Type))
      continue;
    EmbeddingInfo E;
    E.Gather = Id;
    E.Table = Table;
    E.Positional = !readsInputData(G, Idx);
    S.Embeddings.push_back(E);
  }
  // Positional adds: token + position (a Gather, or a table folded to an
  // initializer when shapes are static).
  for (EmbeddingInfo &Tok : S.Embeddings) {
    if (Tok.Positional)
      continue;
    ValueId Y = G.Nodes[Tok.Gather].Outputs[0];
    for (NodeId U : G.Values[Y].Users) {
      const Node &A = G.Nodes[U];
      if (A.Kind != OpKind::Add)
        continue;
      ValueId Other = A.input(0) == Y ? A.input(1) : A.input(0);
      bool Found = false;
      for (EmbeddingInfo &Pos : S.Embeddings)
        if (Pos.Positional && Pos.Gather != NoId &&
            G.Nodes[Pos.Gather].Outputs[0] == layoutRoot(G, Other)) {
          Pos.Add = U;
          Found = true;
        }
      ValueId Table = parameterOf(G, Other);
      const TensorData *T = G.initializer(Table);
      if (!Found && T && T->Shape.size() >= 2) {
        EmbeddingInfo P;
        P.Table = Table;
        P.Positional = true;
        P.Add = U;
        S.Embeddings.push_back(P);
      }
    }
  }
}

/// The stream value a block hands to the next: its last residual sum, post
/// norm or sublayer output, whichever is computed last.
ValueId streamOut(const Graph &G, const std::vector<size_t> &Pos,
                  const BlockInfo &B) {
  ValueId Best = NoId;
  auto Consider = [&](ValueId V) {
    if (V != NoId && (Best == NoId || positionOf(G, Pos, V) > positionOf(G, Pos, Best)))
      Best = V;
  };
  for (const ResidualInfo &R : B.Residuals)
    Consider(R.Output);
  for (const NormInfo &N : B.Norms)
    if (N.Placement == NormPlacement::Post)
      Consider(N.Output);
  if (B.Attention)
    Consider(B.Attention->Output);
  if (B.CrossAttention)
    Consider(B.CrossAttention->Output);
  if (B.Ffn)
    Consider(B.Ffn->Output);
  return Best;
}

} // namespace

namespace gradlint::structure {
void assignRoles(const Model &M, ModelStructure &S);
} // namespace gradlint::structure

ModelStructure gradlint::recoverStructure(const Model &M) {
  const Graph &G = M.G;
  ModelStructure S;
  std::vector<size_t> Pos(G.Nodes.size(), 0);
  for (size_t I = 0; I < G.Order.size(); ++I)
    Pos[G.Order[I]] = I;

  Linears Ls(G);
  std::vector<NormInfo> Norms = findNorms(G);
  std::vector<AttentionInfo> Attn = findAttention(G, Ls);
  std::vector<FfnInfo> Ffns = findFeedForward(G, Ls);
  findEmbeddings(G, S);

  // Sublayers in topological order, with their residual adds.
  std::vector<Sublayer> Subs;
  for (unsigned I = 0; I < Attn.size(); ++I) {
    Sublayer L;
    L.IsAttention = true;
    L.Index = I;
    L.Input = Attn[I].Input;
    L.Output = Attn[I].Output;
    L.Position = Pos[Attn[I].Fused != NoId ? Attn[I].Fused : Attn[I].Softmax];
    Subs.push_back(L);
  }
  for (unsigned I = 0; I < Ffns.size(); ++I) {
    Sublayer L;
    L.Index = I;
    L.Input = Ffns[I].Input;
    L.Output = Ffns[I].Output;
    L.Position = Pos[Ffns[I].Down];
    Subs.push_back(L);
  }
  llvm::sort(Subs, [](const Sublayer &A, const Sublayer &B) {
    return A.Position < B.Position;
  });
  for (Sublayer &L : Subs)
    if (L.Input != NoId && L.Output != NoId)
      L.Residual = residualOf(G, L);

  // Norms: pre-norm first (output feeds the sublayer, the skip bypasses the
  // norm), then post-norm for sublayers without one (input is the sum).
  std::vector<char> Claimed(Norms.size(), 0);
  for (Sublayer &L : Subs) {
    for (unsigned I = 0; I < Norms.size() && L.PreNorm < 0; ++I) {
      const NormInfo &N = Norms[I];
      if (Claimed[I] || N.Output != L.Input)
        continue;
      if (L.Residual && L.Residual->Skip != N.Input && L.Residual->Skip != N.Sum &&
          layoutRoot(G, L.Residual->Skip) != layoutRoot(G, N.Input))
        continue;
      L.PreNorm = I;
      Claimed[I] = 1;
    }
  }
  for (Sublayer &L : Subs) {
    if (L.PreNorm >= 0)
      continue;
    for (unsigned I = 0; I < Norms.size() && L.PostNorm < 0; ++I) {
      const NormInfo &N = Norms[I];
      if (Claimed[I])
        continue;
      bool Post = L.Residual ? (L.Residual->Output != NoId && N.Input == L.Residual->Output) ||
                                   N.Nodes.front() == L.Residual->Add
                             : N.Input == L.Output;
      if (!Post)
        continue;
      L.PostNorm = I;
      Claimed[I] = 1;
    }
  }

  // Blocks: each self-attention opens one; a cross-attention and the next
  // feed-forward layer join it.
  std::vector<std::vector<NodeId>> Extra; // nodes of surplus sublayers
  for (const Sublayer &L : Subs) {
    const char *Site = L.IsAttention ? "attention" : "ffn";
    if (L.IsAttention && Attn[L.Index].isCross() && !S.Blocks.empty() &&
        !S.Blocks.back().CrossAttention && !S.Blocks.back().Ffn) {
      S.Blocks.back().CrossAttention = Attn[L.Index];
      Site = "cross_attention";
    } else if (L.IsAttention) {
      BlockInfo B;
      B.Index = S.Blocks.size();
      B.Attention = Attn[L.Index];
      S.Blocks.push_back(std::move(B));
      Extra.emplace_back();
    } else if (S.Blocks.empty()) {
      continue; // a feed-forward layer before any attention: not a block
    } else if (!S.Blocks.back().Ffn) {
      S.Blocks.back().Ffn = Ffns[L.Index];
    } else {
      Extra.back().insert(Extra.back().end(), Ffns[L.Index].Nodes.begin(),
                          Ffns[L.Index].Nodes.end());
    }
    BlockInfo &B = S.Blocks.back();
    if (L.PreNorm >= 0) {
      NormInfo N = Norms[L.PreNorm];
      N.Placement = NormPlacement::Pre;
      N.Sublayer = Site;
      B.Norms.push_back(std::move(N));
    }
    if (L.Residual)
      B.Residuals.push_back(*L.Residual);
    if (L.PostNorm >= 0) {
      NormInfo N = Norms[L.PostNorm];
      N.Placement = NormPlacement::Post;
      N.Sublayer = Site;
      B.Norms.push_back(std::move(N));
    }
  }
  for (BlockInfo &B : S.Blocks) {
    bool Pre = false, Post = false;
    for (const NormInfo &N : B.Norms) {
      Pre |= N.Placement == NormPlacement::Pre;
      Post |= N.Placement == NormPlacement::Post;
    }
    B.Norm = Pre ? NormPlacement::Pre : Post ? NormPlacement::Post : NormPlacement::None;
  }

  // Node groups: 0 prologue, 1..n blocks, n+1 epilogue, -1 none.
  const int NumBlocks = static_cast<int>(S.Blocks.size());
  std::vector<int> Group(G.Nodes.size(), -1);
  auto Claim = [&](NodeId Id, int Gr) {
    if (Id != NoId && (Group[Id] < 0 || Gr < Group[Id]))
      Group[Id] = Gr;
  };
  for (int I = 0; I < NumBlocks; ++I) {
    const BlockInfo &B = S.Blocks[I];
    for (NodeId N : B.Attention->Nodes)
      Claim(N, I + 1);
    if (B.CrossAttention)
      for (NodeId N : B.CrossAttention->Nodes)
        Claim(N, I + 1);
    if (B.Ffn)
      for (NodeId N : B.Ffn->Nodes)
        Claim(N, I + 1);
    for (const NormInfo &N : B.Norms)
      for (NodeId X : N.Nodes)
        Claim(X, I + 1);
    for (const ResidualInfo &R : B.Residuals)
      Claim(R.Add, I + 1);
    for (NodeId N : Extra[I])
      Claim(N, I + 1);
  }

  if (NumBlocks) {
    // The span of the blocks' computation (weight aliases at the top of the
    // graph do not count).
    size_t First = G.Order.size(), Last = 0;
    for (size_t I = 0; I < G.Nodes.size(); ++I)
      if (Group[I] > 0 && llvm::any_of(G.Nodes[I].Inputs, [&](ValueId In) {
            return In != NoId && !isConstant(G, In);
          })) {
        First = std::min(First, Pos[I]);
        Last = std::max(Last, Pos[I]);
      }
    // Norms no sublayer claimed: before the blocks, after them, or inside.
    for (unsigned I = 0; I < Norms.size(); ++I) {
      if (Claimed[I])
        continue;
      NormInfo N = Norms[I];
      size_t P = lastPosition(Pos, N.Nodes);
      if (P < First) {
        N.Sublayer = "embedding";
        S.EmbeddingNorms.push_back(N);
        for (NodeId X : N.Nodes)
          Claim(X, 0);
      } else if (P > Last) {
        N.Sublayer = "final";
        S.FinalNorms.push_back(N);
        for (NodeId X : N.Nodes)
          Claim(X, NumBlocks + 1);
      } else {
        int At = 0;
        for (int B = 0; B < NumBlocks; ++B) {
          const AttentionInfo &A = *S.Blocks[B].Attention;
          if (Pos[A.Fused != NoId ? A.Fused : A.Softmax] < P)
            At = B;
        }
        S.Blocks[At].Norms.push_back(N);
        for (NodeId X : N.Nodes)
          Claim(X, At + 1);
      }
    }
    // The LM head: a linear layer reading the final norm (or the stream).
    ValueId Stream = streamOut(G, Pos, S.Blocks.back());
    if (!S.FinalNorms.empty())
      Stream = S.FinalNorms.back().Output;
    for (const Linear &L : Ls.All) {
      if (Pos[L.Product] <= Last || layoutRoot(G, L.In) != Stream)
        continue;
      S.Head = L.Product;
      S.HeadWeight = L.Weight;
      S.HeadBias = L.Bias;
      for (NodeId N : L.Nodes)
        Claim(N, NumBlocks + 1);
      llvm::SmallVector<NodeId, 4> Tail;
      layoutTail(G, L.Out, &Tail);
      for (NodeId N : Tail)
        Claim(N, NumBlocks + 1);
      break;
    }
  }
  for (const EmbeddingInfo &E : S.Embeddings) {
    Claim(E.Gather, 0);
    Claim(E.Add, 0);
  }

  // Nodes that only feed one group join it (the earliest when several).
  for (auto It = G.Order.rbegin(); It != G.Order.rend(); ++It) {
    NodeId Id = *It;
    if (Group[Id] >= 0)
      continue;
    int Gr = -1;
    bool Any = false, All = true;
    for (ValueId O : G.Nodes[Id].Outputs) {
      if (O == NoId)
        continue;
      if (G.Values[O].IsOutput)
        All = false;
      for (NodeId U : G.Values[O].Users) {
        Any = true;
        if (Group[U] < 0)
          All = false;
        else
          Gr = Gr < 0 ? Group[U] : std::min(Gr, Group[U]);
      }
    }
    if (Any && All)
      Group[Id] = Gr;
  }

  S.NodeBlock.assign(G.Nodes.size(), -1);
  for (NodeId Id : G.Order) {
    int Gr = Group[Id];
    if (Gr < 0)
      S.Unassigned.push_back(Id);
    else if (Gr == 0)
      S.Prologue.push_back(Id);
    else if (Gr == NumBlocks + 1)
      S.Epilogue.push_back(Id);
    else {
      S.NodeBlock[Id] = Gr - 1;
      S.Blocks[Gr - 1].Nodes.push_back(Id);
    }
  }
  assignRoles(M, S);
  return S;
}
