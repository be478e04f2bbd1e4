//===- SubParameters.cpp - find split projections -------------------------===//
//
//      x ──▶ MatMul(x, W) ──▶ [Add bias] ──▶ Split(axis=-1) ──▶ q, k, v
//                 ▲                     └──▶ Slice(last axis) × n
//        W or Transpose(W)
//
//===----------------------------------------------------------------------===//
#include "gradlint/Structure/SubParameters.h"
#include "Match.h"
#include "gradlint/Structure/Structure.h"
#include <algorithm>
#include <tuple>

using namespace gradlint;

namespace {

/// The projection's weight initializer and which of its axes maps to the
/// product's last (output) axis; NoId when the weight is not an initializer.
std::pair<ValueId, unsigned> weightOf(const Graph &G, const Node &N) {
  ValueId W = N.input(1);
  if (W == NoId)
    return {NoId, 0};
  bool Transposed = N.Kind == OpKind::Gemm && N.getInt("transB", 0);
  // torch without constant folding writes MatMul(x, Transpose(W)).
  if (G.Values[W].Producer != NoId) {
    const Node &P = G.Nodes[G.Values[W].Producer];
    llvm::ArrayRef<int64_t> Perm = P.getInts("perm");
    if (P.Kind != OpKind::Transpose ||
        !(Perm.empty() || (Perm.size() == 2 && Perm[0] == 1 && Perm[1] == 0)))
      return {NoId, 0};
    W = P.input(0);
    Transposed = !Transposed;
  }
  const TensorData *T = G.initializer(W);
  if (!T || T->Shape.size() != 2 || !isFloatingPoint(T->Type))
    return {NoId, 0};
  return {W, Transposed ? 0u : 1u};
}

/// Follows a projection output through a bias Add to the value that is split.
ValueId throughBias(const Graph &G, ValueId Y) {
  NodeId UId = structure::soleDataUser(G, Y);
  if (UId == NoId)
    return Y;
  const Node &U = G.Nodes[UId];
  if (U.Kind != OpKind::Add || U.Outputs.empty() || U.Outputs[0] == NoId)
    return Y;
  ValueId Other = U.input(0) == Y ? U.input(1) : U.input(0);
  // Deduplicated biases reach the Add through an Identity alias.
  const TensorData *B = G.initializer(structure::parameterOf(G, Other));
  if (!B || B->Shape.size() != 1)
    return Y;
  return U.Outputs[0];
}

/// How many MatMul/Gemm nodes read W, through Identity aliases, Casts and
/// Transposes. A weight shared by several projections (cloned layers) gets
/// no sub-parameters: its blocks play a different role in each.
unsigned productsReading(const Graph &G, ValueId W) {
  unsigned Count = 0;
  std::vector<ValueId> Work{W};
  for (unsigned Steps = 0; !Work.empty() && Steps < 64; ++Steps) {
    ValueId V = Work.back();
    Work.pop_back();
    for (NodeId U : G.Values[V].Users) {
      const Node &N = G.Nodes[U];
      if (N.Kind == OpKind::MatMul || N.Kind == OpKind::Gemm)
        ++Count;
      else if ((N.Kind == OpKind::Identity || N.Kind == OpKind::Cast ||
                N.Kind == OpKind::Transpose) &&
               !N.Outputs.empty() && N.Outputs[0] != NoId)
        Work.push_back(N.Outputs[0]);
    }
  }
  return Count;
}

bool isLastAxis(int64_t Axis, size_t Rank) {
  return Axis == -1 || Axis == static_cast<int64_t>(Rank) - 1;
}

/// A block [Begin, End) along the last axis and the value that holds it.
struct Block {
  int64_t Begin, End;
  ValueId Part;
  bool operator<(const Block &O) const {
    return std::tie(Begin, End) < std::tie(O.Begin, O.End);
  }
  bool operator==(const Block &O) const {
    return Begin == O.Begin && End == O.End;
  }
};

/// Blocks along the last axis that the users of Z take.
std::vector<Block> blocksOf(const Graph &G, ValueId Z) {
  std::vector<Block> Blocks;
  const Value &V = G.Values[Z];
  if (!V.HasShape || V.Shape.empty())
    return Blocks;
  size_t Rank = V.Shape.size();
  int64_t Width = V.Shape.back();
  for (NodeId U : V.Users) {
    const Node &N = G.Nodes[U];
    if (N.Kind == OpKind::Split && N.input(0) == Z &&
        isLastAxis(N.getInt("axis", 0), Rank)) {
      int64_t At = 0;
      for (ValueId Out : N.Outputs) {
        if (Out == NoId || !G.Values[Out].HasShape)
          return {};
        int64_t W = G.Values[Out].Shape.back();
        Blocks.push_back({At, At + W, Out});
        At += W;
      }
      return Blocks.size() >= 2 ? Blocks : decltype(Blocks){};
    }
    if (N.Kind == OpKind::Slice && N.input(0) == Z) {
      auto C = [&](unsigned I) {
        ValueId In = N.input(I);
        return In == NoId ? nullptr : G.Values[In].Const;
      };
      auto Starts = C(1), Ends = C(2), Axes = C(3), Steps = C(4);
      if (!Starts || !Ends || Starts->size() != 1 || !Starts->isInteger() ||
          (Axes && (Axes->size() != 1 || !isLastAxis(Axes->integer(0), Rank))) ||
          (!Axes && Rank != 1) || (Steps && Steps->integer(0) != 1))
        continue;
      int64_t B = std::clamp<int64_t>(Starts->integer(0) < 0 ? Starts->integer(0) + Width
                                                             : Starts->integer(0), 0, Width);
      int64_t E = std::clamp<int64_t>(Ends->integer(0) < 0 ? Ends->integer(0) + Width
                                                           : Ends->integer(0), 0, Width);
      if (E > B && !N.Outputs.empty())
        Blocks.push_back({B, E, N.Outputs[0]});
    }
  }
  std::sort(Blocks.begin(), Blocks.end());
  Blocks.erase(std::unique(Blocks.begin(), Blocks.end()), Blocks.end());
  for (size_t I = 1; I < Blocks.size(); ++I)
    if (Blocks[I].Begin < Blocks[I - 1].End)
      return {}; // overlapping slices: not a partition
  return Blocks.size() >= 2 ? Blocks : decltype(Blocks){};
}

} // namespace

std::vector<SubParameter> gradlint::findSubParameters(const Model &M) {
  return findSubParameters(M, recoverStructure(M));
}

/// q/k/v tags for the blocks of a product that the structure shows to be a
/// fused attention projection (all of q, k, v, or k and v); empty otherwise.
static std::vector<std::string> attentionTags(const ModelStructure &S, NodeId Product,
                                              const std::vector<Block> &Blocks) {
  for (const BlockInfo &B : S.Blocks) {
    for (const auto *Opt : {&B.Attention, &B.CrossAttention}) {
      if (!*Opt)
        continue;
      const AttentionInfo &A = **Opt;
      if (A.Fused != NoId || (A.Q != Product && A.K != Product && A.V != Product))
        continue;
      std::vector<std::string> Tags;
      for (const Block &Bl : Blocks) {
        if (Bl.Part == A.QValue && A.Q == Product)
          Tags.push_back("q");
        else if (Bl.Part == A.KValue && A.K == Product)
          Tags.push_back("k");
        else if (Bl.Part == A.VValue && A.V == Product)
          Tags.push_back("v");
        else
          return {};
      }
      return Tags;
    }
  }
  return {};
}

std::vector<SubParameter> gradlint::findSubParameters(const Model &M,
                                                      const ModelStructure &St) {
  const Graph &G = M.G;
  std::vector<SubParameter> Out;
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    if ((N.Kind != OpKind::MatMul && N.Kind != OpKind::Gemm) ||
        N.Outputs.empty() || N.Outputs[0] == NoId)
      continue;
    auto [W, Axis] = weightOf(G, N);
    if (W == NoId || productsReading(G, W) != 1)
      continue;
    ValueId Z = N.Kind == OpKind::Gemm ? N.Outputs[0] : throughBias(G, N.Outputs[0]);
    auto Blocks = blocksOf(G, Z);
    if (Blocks.empty())
      continue;
    std::vector<std::string> Tags = attentionTags(St, Id, Blocks);
    for (size_t I = 0; I != Blocks.size(); ++I) {
      SubParameter S;
      S.Tag = Tags.empty() ? std::to_string(I) : Tags[I];
      S.Name = G.Values[W].Name + "[" + S.Tag + "]";
      S.Weight = W;
      S.Axis = Axis;
      S.Begin = Blocks[I].Begin;
      S.End = Blocks[I].End;
      S.Product = Id;
      S.Part = Blocks[I].Part;
      Out.push_back(S);
    }
  }
  std::stable_sort(Out.begin(), Out.end(), [&](const SubParameter &A, const SubParameter &B) {
    return std::make_pair(G.Values[A.Weight].Name, A.Begin) <
           std::make_pair(G.Values[B.Weight].Name, B.Begin);
  });
  return Out;
}
