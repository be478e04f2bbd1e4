//===- Norms.cpp - LayerNorm and RMSNorm, fused and written out -----------===//
//
// Fused ops are read from their attributes. Decomposed norms are matched by
// the tables below, rooted at the normalized value n; the affine tail
// (· γ, + β) is followed downwards afterwards, since both are optional.
//
//===----------------------------------------------------------------------===//
#include "Match.h"
#include <algorithm>

using namespace gradlint;
using namespace gradlint::structure;

namespace {

// LayerNorm, torch and ONNX-function forms (Casts anywhere are looked through):
//
//   x ─┬───────────────────▶ Sub ─▶ d ─┬─▶ Pow(d, 2) | Mul(d, d) ─▶ ReduceMean ─▶ v
//      └─▶ ReduceMean ─▶ μ ──┘         │   or v = ReduceMean(x·x) − μ·μ
//                                      │
//   v ─▶ Add(ε) ─▶ Sqrt ─▶ s           └─▶ Div(d, s) | Mul(d, Reciprocal(s))
//                                          | Mul(d, Div(1, s)) | Mul(d, Pow(v+ε, −½)) ─▶ n
const PatternRow LayerNormPattern[] = {
    {"n", OpKind::Div, {"d", "s"}},
    {"n", OpKind::Mul, {"d", "r"}},
    {"r", OpKind::Reciprocal, {"s"}},
    {"r", OpKind::Div, {"=1", "s"}},
    {"r", OpKind::Pow, {"ve", "=-0.5"}},
    {"s", OpKind::Sqrt, {"ve"}},
    {"ve", OpKind::Add, {"v", "#eps"}},
    {"v", OpKind::ReduceMean, {"sq"}},
    {"v", OpKind::Sub, {"ex2", "mu2"}},
    {"sq", OpKind::Pow, {"d", "=2"}},
    {"sq", OpKind::Mul, {"d", "d"}},
    {"ex2", OpKind::ReduceMean, {"xx"}},
    {"xx", OpKind::Mul, {"x", "x"}},
    {"xx", OpKind::Pow, {"x", "=2"}},
    {"mu2", OpKind::Mul, {"mu", "mu"}},
    {"mu2", OpKind::Pow, {"mu", "=2"}},
    {"d", OpKind::Sub, {"x", "mu"}},
    {"mu", OpKind::ReduceMean, {"x"}},
};

// RMSNorm (T5, Llama, the ONNX RMSNormalization function):
//
//   x ─┬─▶ Pow(x, 2) | Mul(x, x) ─▶ ReduceMean ─▶ Add(ε) ─▶ Sqrt ─▶ s
//      └─▶ Div(x, s) | Mul(x, Reciprocal(s)) | Mul(x, Div(1, s)) | Mul(x, Pow(·+ε, −½)) ─▶ n
const PatternRow RmsNormPattern[] = {
    {"n", OpKind::Div, {"x", "s"}},
    {"n", OpKind::Mul, {"x", "r"}},
    {"r", OpKind::Reciprocal, {"s"}},
    {"r", OpKind::Div, {"=1", "s"}},
    {"r", OpKind::Pow, {"ve", "=-0.5"}},
    {"s", OpKind::Sqrt, {"ve"}},
    {"ve", OpKind::Add, {"v", "#eps"}},
    {"v", OpKind::ReduceMean, {"sq"}},
    {"sq", OpKind::Pow, {"x", "=2"}},
    {"sq", OpKind::Mul, {"x", "x"}},
};

// LayerNorm as tf2onnx writes Keras' LayerNormalization (γ folded into the
// reciprocal standard deviation, β − μ·g added last):
//
//   x ─┬─▶ ReduceMean ─▶ μ ─────────────────────────────▶ Mul(μ, g) ─▶ Sub($β, ·) ─┐
//      ├─▶ Sub(x, μ) ─▶ Mul(d, d) ─▶ ReduceMean ─▶ Add(ε) ─▶ Sqrt ─▶ Reciprocal   │
//      │                                                   └─▶ Mul(·, $γ) ─▶ g     │
//      └─▶ Mul(x, g) ─────────────────────────────────────────────────────────▶ Add ─▶ y
const PatternRow TfLayerNormPattern[] = {
    {"y", OpKind::Add, {"xg", "bm"}},
    {"xg", OpKind::Mul, {"x", "g"}},
    {"bm", OpKind::Sub, {"$beta", "mg"}},
    {"mg", OpKind::Mul, {"mu", "g"}},
    {"g", OpKind::Mul, {"r", "$gamma"}},
    {"r", OpKind::Reciprocal, {"s"}},
    {"r", OpKind::Pow, {"ve", "=-0.5"}},
    {"s", OpKind::Sqrt, {"ve"}},
    {"ve", OpKind::Add, {"v", "#eps"}},
    {"v", OpKind::ReduceMean, {"sq"}},
    {"sq", OpKind::Mul, {"d", "d"}},
    {"sq", OpKind::Pow, {"d", "=2"}},
    {"d", OpKind::Sub, {"x", "mu"}},
    {"mu", OpKind::ReduceMean, {"x"}},
};

struct DecomposedForm {
  const char *Name;
  NormKind Kind;
  llvm::ArrayRef<PatternRow> Pattern;
  bool HasAffine; ///< γ and β are part of the pattern
};

/// Tried in order at every candidate root; the first match wins.
const DecomposedForm DecomposedForms[] = {
    {"decomposed", NormKind::LayerNorm, LayerNormPattern, false},
    {"decomposed (tf)", NormKind::LayerNorm, TfLayerNormPattern, true},
    {"decomposed", NormKind::RMSNorm, RmsNormPattern, false},
};

/// A fused norm op: which inputs are γ, β and the skip, and its defaults.
struct FusedForm {
  OpKind Op;
  NormKind Kind;
  int Gamma, Beta, Skip;
  float DefaultEpsilon;
};

const FusedForm FusedForms[] = {
    {OpKind::LayerNormalization, NormKind::LayerNorm, 1, 2, -1, 1e-5f},
    {OpKind::RMSNormalization, NormKind::RMSNorm, 1, -1, -1, 1e-5f},
    {OpKind::SimplifiedLayerNormalization, NormKind::RMSNorm, 1, -1, -1, 1e-5f},
    {OpKind::SkipLayerNormalization, NormKind::LayerNorm, 2, 3, 1, 1e-12f},
    {OpKind::SkipSimplifiedLayerNormalization, NormKind::RMSNorm, 2, -1, 1, 1e-12f},
};

int64_t negativeAxis(const Graph &G, ValueId X, int64_t Axis) {
  const Value &V = G.Values[X];
  if (Axis >= 0 && V.HasShape)
    return Axis - static_cast<int64_t>(V.Shape.size());
  return Axis;
}

/// The reduced axes of a ReduceMean (attribute before opset 18, input after).
std::optional<std::vector<int64_t>> reducedAxes(const Graph &G, const Node &N) {
  if (const Attribute *A = N.attr("axes"))
    return A->Ints;
  if (N.input(1) != NoId) {
    auto C = G.Values[N.input(1)].Const;
    if (!C)
      return std::nullopt;
    std::vector<int64_t> Out;
    for (size_t I = 0; I < C->size(); ++I)
      Out.push_back(C->integer(I));
    return Out;
  }
  return std::nullopt; // all axes
}

/// The first normalized axis when the reductions cover a trailing run of
/// axes; nullopt otherwise (a norm over the batch is no layer norm).
std::optional<int64_t> normalizedAxis(const Graph &G, const Match &M) {
  std::optional<int64_t> Axis;
  for (const char *R : {"v", "mu", "ex2"}) {
    NodeId Id = M.node(R);
    if (Id == NoId || G.Nodes[Id].Kind != OpKind::ReduceMean)
      continue;
    const Node &N = G.Nodes[Id];
    if (!N.getInt("keepdims", 1))
      return std::nullopt;
    auto Axes = reducedAxes(G, N);
    const Value &X = G.Values[N.input(0)];
    if (!Axes)
      return std::nullopt;
    int64_t Rank = X.HasShape ? static_cast<int64_t>(X.Shape.size()) : 0;
    std::vector<int64_t> Neg;
    for (int64_t A : *Axes)
      Neg.push_back(A >= 0 ? (Rank ? A - Rank : A) : A);
    llvm::sort(Neg);
    if (Neg.empty() || Neg.back() != -1)
      return std::nullopt;
    for (size_t I = 1; I < Neg.size(); ++I)
      if (Neg[I] != Neg[I - 1] + 1)
        return std::nullopt;
    if (Axis && *Axis != Neg.front())
      return std::nullopt;
    Axis = Neg.front();
  }
  return Axis;
}

/// The single user of V, looking through Casts; Casts collects them.
const Node *singleUser(const Graph &G, ValueId &V, std::vector<NodeId> &Casts) {
  for (unsigned Depth = 0; Depth < 4; ++Depth) {
    NodeId UId = soleDataUser(G, V);
    if (UId == NoId)
      return nullptr;
    const Node &U = G.Nodes[UId];
    if (U.Kind != OpKind::Cast || U.Outputs.empty())
      return &U;
    Casts.push_back(UId);
    V = U.Outputs[0];
  }
  return nullptr;
}

/// Follows n · γ + β below a decomposed norm's normalized value.
void followAffine(const Graph &G, NormInfo &Info) {
  ValueId V = Info.Output;
  std::vector<NodeId> Pending;
  auto Step = [&](OpKind Op, ValueId &Param) {
    ValueId At = V;
    std::vector<NodeId> Casts;
    const Node *U = singleUser(G, At, Casts);
    if (!U || U->Kind != Op || U->Outputs.empty())
      return false;
    ValueId Other = U->input(0) == At ? U->input(1) : U->input(0);
    llvm::SmallVector<NodeId, 2> Through;
    ValueId P = parameterOf(G, Other, &Through);
    if (P == NoId)
      return false;
    Param = P;
    Pending.insert(Pending.end(), Casts.begin(), Casts.end());
    Pending.insert(Pending.end(), Through.begin(), Through.end());
    Pending.push_back(G.Values[U->Outputs[0]].Producer);
    V = U->Outputs[0];
    return true;
  };
  Step(OpKind::Mul, Info.Gamma);
  if (Info.Kind == NormKind::LayerNorm)
    Step(OpKind::Add, Info.Beta);
  Info.Output = V;
  Info.Nodes.insert(Info.Nodes.end(), Pending.begin(), Pending.end());
}

std::optional<NormInfo> fusedNorm(const Graph &G, NodeId Id) {
  const Node &N = G.Nodes[Id];
  for (const FusedForm &F : FusedForms) {
    if (F.Op != N.Kind || N.Outputs.empty() || N.Outputs[0] == NoId)
      continue;
    NormInfo Info;
    Info.Kind = F.Kind;
    Info.Form = N.OpType;
    Info.Nodes.push_back(Id);
    Info.Input = N.input(0);
    Info.Output = N.Outputs[0];
    Info.Gamma = F.Gamma >= 0 ? parameterOf(G, N.input(F.Gamma)) : NoId;
    Info.Beta = F.Beta >= 0 ? parameterOf(G, N.input(F.Beta)) : NoId;
    Info.Epsilon = N.getFloat("epsilon", F.DefaultEpsilon);
    Info.Axis = negativeAxis(G, Info.Input, N.getInt("axis", -1));
    if (F.Skip >= 0) {
      Info.Skip = N.input(F.Skip);
      if (N.Outputs.size() > 3 && N.Outputs[3] != NoId &&
          !G.Values[N.Outputs[3]].Users.empty())
        Info.Sum = N.Outputs[3];
    }
    return Info;
  }
  return std::nullopt;
}

std::optional<NormInfo> decomposedNorm(const Graph &G, NodeId Id,
                                       const std::vector<char> &Claimed) {
  const Node &N = G.Nodes[Id];
  if (N.Outputs.empty() || N.Outputs[0] == NoId)
    return std::nullopt;
  for (const DecomposedForm &F : DecomposedForms) {
    auto M = matchPattern(G, F.Pattern, N.Outputs[0]);
    if (!M || llvm::any_of(M->Nodes, [&](NodeId X) { return Claimed[X]; }))
      continue;
    auto Axis = normalizedAxis(G, *M);
    auto Eps = M->scalar("eps");
    if (!Axis || !Eps || *Eps < 0 || *Eps > 1)
      continue;
    NormInfo Info;
    Info.Kind = F.Kind;
    Info.Form = F.Name;
    Info.Decomposed = true;
    Info.Nodes.assign(M->Nodes.begin(), M->Nodes.end());
    Info.Input = M->value("x");
    Info.Output = N.Outputs[0];
    Info.Epsilon = *Eps;
    Info.Axis = *Axis;
    // The ONNX LayerNormalization function normalizes Flatten(x, axis)
    // over its last axis: the first normalized axis is Flatten's.
    if (const Node *F = producer(G, Info.Input);
        F && F->Kind == OpKind::Flatten && *Axis == -1 &&
        G.Values[F->input(0)].HasShape) {
      Info.Axis = negativeAxis(G, F->input(0), F->getInt("axis", 1));
      Info.Input = F->input(0);
      Info.Nodes.push_back(G.Values[M->value("x")].Producer);
    }
    if (F.HasAffine) {
      Info.Gamma = M->value("gamma");
      Info.Beta = M->value("beta");
    } else {
      followAffine(G, Info);
    }
    return Info;
  }
  return std::nullopt;
}

} // namespace

std::vector<NormInfo> structure::findNorms(const Graph &G) {
  std::vector<NormInfo> Out;
  std::vector<char> Claimed(G.Nodes.size(), 0);
  // Later roots first: the tf form's root (the final Add) lies below the
  // Mul that the other forms would take as their root.
  for (auto It = G.Order.rbegin(); It != G.Order.rend(); ++It) {
    NodeId Id = *It;
    if (Claimed[Id])
      continue;
    auto Info = fusedNorm(G, Id);
    if (!Info)
      Info = decomposedNorm(G, Id, Claimed);
    if (!Info)
      continue;
    for (NodeId N : Info->Nodes)
      Claimed[N] = 1;
    llvm::sort(Info->Nodes);
    Info->Nodes.erase(std::unique(Info->Nodes.begin(), Info->Nodes.end()),
                      Info->Nodes.end());
    Out.push_back(std::move(*Info));
  }
  std::reverse(Out.begin(), Out.end());
  return Out;
}
