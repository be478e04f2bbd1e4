//===- Match.cpp - the pattern matcher and shared helpers -----------------===//
#include "Match.h"
#include "gradlint/Shape/ShapeInference.h"
#include <algorithm>
#include "llvm/ADT/STLExtras.h"
#include <cmath>
#include <cstdlib>

using namespace gradlint;
using namespace gradlint::structure;

//===-- value helpers -----------------------------------------------------===//

const Node *structure::producer(const Graph &G, ValueId V) {
  if (V == NoId || G.Values[V].Producer == NoId)
    return nullptr;
  return &G.Nodes[G.Values[V].Producer];
}

ValueId structure::stripCasts(const Graph &G, ValueId V,
                              llvm::SmallVectorImpl<NodeId> *Casts) {
  while (const Node *P = producer(G, V)) {
    if (P->Kind != OpKind::Cast && P->Kind != OpKind::CastLike)
      break;
    if (Casts)
      Casts->push_back(G.Values[V].Producer);
    V = P->input(0);
  }
  return V;
}

static std::shared_ptr<const HostTensor> constantOf(const Graph &G, ValueId V) {
  for (unsigned Depth = 0; V != NoId && Depth < 8; ++Depth) {
    const Value &Val = G.Values[V];
    if (Val.Const)
      return Val.Const;
    if (const TensorData *T = G.initializer(V))
      return hostTensorOf(*T);
    const Node *P = producer(G, V);
    if (!P || (P->Kind != OpKind::Identity && P->Kind != OpKind::Cast))
      return nullptr;
    V = P->input(0);
  }
  return nullptr;
}

std::optional<double> structure::uniformConstant(const Graph &G, ValueId V) {
  auto C = constantOf(G, V);
  if (!C || C->size() == 0)
    return std::nullopt;
  double First = C->real(0);
  for (size_t I = 1; I < C->size(); ++I) {
    double X = C->real(I);
    if (!(X == First || std::fabs(X - First) <= 1e-6 * std::fabs(First)))
      return std::nullopt;
  }
  return First;
}

bool structure::isConstant(const Graph &G, ValueId V) {
  if (V == NoId)
    return false;
  if (G.Values[V].Const || G.Values[V].Initializer >= 0)
    return true;
  const Node *P = producer(G, V);
  return P && (P->Kind == OpKind::Identity || P->Kind == OpKind::Cast) &&
         isConstant(G, P->input(0));
}

ValueId structure::parameterOf(const Graph &G, ValueId V,
                               llvm::SmallVectorImpl<NodeId> *Nodes) {
  for (unsigned Depth = 0; V != NoId && Depth < 8; ++Depth) {
    if (const TensorData *T = G.initializer(V))
      return isFloatingPoint(T->Type) ? V : NoId;
    const Node *P = producer(G, V);
    if (!P || (P->Kind != OpKind::Identity && P->Kind != OpKind::Cast))
      return NoId;
    if (Nodes)
      Nodes->push_back(G.Values[V].Producer);
    V = P->input(0);
  }
  return NoId;
}

/// Ops that only move, copy or re-type elements.
static const OpKind LayoutOps[] = {
    OpKind::Reshape, OpKind::Transpose, OpKind::Squeeze,  OpKind::Unsqueeze,
    OpKind::Flatten, OpKind::Cast,      OpKind::Identity, OpKind::Dropout,
};

bool structure::isLayoutOp(OpKind K) { return llvm::is_contained(LayoutOps, K); }

ValueId structure::layoutRoot(const Graph &G, ValueId V,
                              llvm::SmallVectorImpl<NodeId> *Nodes) {
  while (const Node *P = producer(G, V)) {
    if (!isLayoutOp(P->Kind) || isConstant(G, P->input(0)))
      break;
    if (Nodes)
      Nodes->push_back(G.Values[V].Producer);
    V = P->input(0);
  }
  return V;
}

NodeId structure::soleDataUser(const Graph &G, ValueId V) {
  if (V == NoId || G.Values[V].IsOutput)
    return NoId;
  NodeId Found = NoId;
  for (NodeId U : G.Values[V].Users) {
    OpKind K = G.Nodes[U].Kind;
    if (K == OpKind::Shape || K == OpKind::Size)
      continue;
    if (Found != NoId && Found != U)
      return NoId;
    Found = U;
  }
  return Found;
}

ValueId structure::layoutTail(const Graph &G, ValueId V,
                              llvm::SmallVectorImpl<NodeId> *Nodes) {
  while (V != NoId) {
    NodeId U = soleDataUser(G, V);
    if (U == NoId)
      break;
    const Node &N = G.Nodes[U];
    if (!isLayoutOp(N.Kind) || N.input(0) != V || N.Outputs.empty() ||
        N.Outputs[0] == NoId)
      break;
    if (Nodes)
      Nodes->push_back(U);
    V = N.Outputs[0];
  }
  return V;
}

bool structure::isLastAxis(const Graph &G, ValueId V, int64_t Axis) {
  if (Axis == -1)
    return true;
  const Value &Val = G.Values[V];
  return Val.HasShape && Axis == static_cast<int64_t>(Val.Shape.size()) - 1;
}

bool structure::isAncestorOrSelf(const Graph &G, ValueId A, ValueId V) {
  if (A == V)
    return true;
  if (A == NoId || V == NoId)
    return false;
  NodeId Target = G.Values[A].Producer;
  std::vector<char> Seen(G.Nodes.size(), 0);
  std::vector<NodeId> Stack;
  if (G.Values[V].Producer != NoId)
    Stack.push_back(G.Values[V].Producer);
  while (!Stack.empty()) {
    NodeId N = Stack.back();
    Stack.pop_back();
    if (Seen[N])
      continue;
    Seen[N] = 1;
    if (N == Target)
      return true;
    for (ValueId In : G.Nodes[N].Inputs) {
      if (In == NoId)
        continue;
      if (In == A)
        return true;
      if (G.Values[In].Producer != NoId)
        Stack.push_back(G.Values[In].Producer);
    }
  }
  return false;
}

void structure::addNode(std::vector<NodeId> &Out, NodeId Id) {
  if (Id != NoId)
    Out.push_back(Id);
}

//===-- the matcher -------------------------------------------------------===//

ValueId Match::value(llvm::StringRef Name) const {
  for (const auto &[N, V] : Values)
    if (N == Name)
      return V;
  return NoId;
}

NodeId Match::node(llvm::StringRef Name) const {
  for (const auto &[N, V] : NodesByName)
    if (N == Name)
      return V;
  return NoId;
}

std::optional<double> Match::scalar(llvm::StringRef Name) const {
  for (const auto &[N, V] : Scalars)
    if (N == Name)
      return V;
  return std::nullopt;
}

namespace {

bool isCommutative(OpKind K) {
  return K == OpKind::Add || K == OpKind::Mul || K == OpKind::Max ||
         K == OpKind::Min || K == OpKind::Sum || K == OpKind::Equal ||
         K == OpKind::And || K == OpKind::Or;
}

using Todo = llvm::SmallVector<std::pair<llvm::StringRef, ValueId>, 16>;

class Matcher {
public:
  Matcher(const Graph &G, llvm::ArrayRef<PatternRow> P) : G(G), P(P) {}

  bool solve(Match &M, Todo Work) {
    if (Work.empty())
      return true;
    auto [Name, Raw] = Work.pop_back_val();
    if (Raw == NoId)
      return false;
    if (Name == "*")
      return solve(M, Work);
    llvm::SmallVector<NodeId, 4> Casts;
    ValueId V = stripCasts(G, Raw, &Casts);
    if (Name.startswith("=")) {
      auto C = uniformConstant(G, V);
      double Want = std::strtod(Name.drop_front().str().c_str(), nullptr);
      if (!C || std::fabs(*C - Want) > 1e-4 * std::max(1.0, std::fabs(Want)))
        return false;
      return withCasts(M, Casts, [&](Match &M2) { return solve(M2, Work); });
    }
    if (Name.startswith("#")) {
      auto C = uniformConstant(G, V);
      if (!C)
        return false;
      return withCasts(M, Casts, [&](Match &M2) {
        M2.Scalars.push_back({Name.drop_front(), *C});
        return solve(M2, Work);
      });
    }
    if (Name.startswith("$")) {
      llvm::SmallVector<NodeId, 4> Through;
      ValueId Param = parameterOf(G, Raw, &Through);
      if (Param == NoId)
        return false;
      Match M2 = M;
      M2.Values.push_back({Name.drop_front(), Param});
      M2.Nodes.append(Through.begin(), Through.end());
      if (!solve(M2, Work))
        return false;
      M = std::move(M2);
      return true;
    }
    ValueId Bound = M.value(Name);
    if (Bound != NoId) {
      if (Bound != V)
        return false;
      return withCasts(M, Casts, [&](Match &M2) { return solve(M2, Work); });
    }
    bool HasRows = false;
    for (const PatternRow &R : P) {
      if (Name != R.Out)
        continue;
      HasRows = true;
      const Node *N = producer(G, V);
      if (!N || N->Kind != R.Op || isConstant(G, V))
        continue;
      unsigned Arity = 0;
      while (Arity < 3 && R.Ins[Arity])
        ++Arity;
      if (N->Inputs.size() < Arity)
        continue;
      bool Swap = Arity == 2 && isCommutative(R.Op);
      for (int Order = 0; Order <= (Swap ? 1 : 0); ++Order) {
        Match M2 = M;
        M2.Values.push_back({Name, V});
        M2.NodesByName.push_back({Name, G.Values[V].Producer});
        M2.Nodes.push_back(G.Values[V].Producer);
        M2.Nodes.append(Casts.begin(), Casts.end());
        Todo W2 = Work;
        for (unsigned I = Arity; I-- > 0;) {
          unsigned From = Order ? 1 - I : I;
          W2.push_back({R.Ins[I], N->input(From)});
        }
        if (solve(M2, W2)) {
          M = std::move(M2);
          return true;
        }
      }
    }
    if (HasRows)
      return false;
    // A free variable.
    Match M2 = M;
    M2.Values.push_back({Name, V});
    M2.Nodes.append(Casts.begin(), Casts.end());
    if (!solve(M2, Work))
      return false;
    M = std::move(M2);
    return true;
  }

private:
  template <typename Fn>
  bool withCasts(Match &M, llvm::ArrayRef<NodeId> Casts, Fn &&F) {
    Match M2 = M;
    M2.Nodes.append(Casts.begin(), Casts.end());
    if (!F(M2))
      return false;
    M = std::move(M2);
    return true;
  }

  const Graph &G;
  llvm::ArrayRef<PatternRow> P;
};

} // namespace

std::optional<Match> structure::matchPattern(const Graph &G,
                                             llvm::ArrayRef<PatternRow> Pattern,
                                             ValueId Root) {
  if (Pattern.empty() || Root == NoId)
    return std::nullopt;
  Match M;
  Matcher Mt(G, Pattern);
  Todo Work;
  Work.push_back({Pattern[0].Out, Root});
  if (!Mt.solve(M, Work))
    return std::nullopt;
  llvm::sort(M.Nodes);
  M.Nodes.erase(std::unique(M.Nodes.begin(), M.Nodes.end()), M.Nodes.end());
  return M;
}

//===-- linear layers -----------------------------------------------------===//

/// The weight initializer of a MatMul/Gemm, through Identity, Cast and a
/// 2-D Transpose (torch without constant folding writes MatMul(x, Wᵀ)).
static ValueId weightOf(const Graph &G, const Node &N,
                        std::vector<NodeId> &Through) {
  if (N.Kind == OpKind::Gemm && N.getInt("transA", 0))
    return NoId;
  ValueId W = N.input(1);
  llvm::SmallVector<NodeId, 4> Nodes;
  for (unsigned Depth = 0; W != NoId && Depth < 8; ++Depth) {
    const Node *P = producer(G, W);
    if (!P)
      break;
    llvm::ArrayRef<int64_t> Perm = P->getInts("perm");
    bool Flip = P->Kind == OpKind::Transpose &&
                (Perm.empty() || (Perm.size() == 2 && Perm[0] == 1 && Perm[1] == 0));
    if (!Flip && P->Kind != OpKind::Identity && P->Kind != OpKind::Cast)
      break;
    Nodes.push_back(G.Values[W].Producer);
    W = P->input(0);
  }
  const TensorData *T = G.initializer(W);
  if (!T || T->Shape.size() != 2 || !isFloatingPoint(T->Type))
    return NoId;
  Through.insert(Through.end(), Nodes.begin(), Nodes.end());
  return W;
}

Linears::Linears(const Graph &G) {
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    if ((N.Kind != OpKind::MatMul && N.Kind != OpKind::Gemm) ||
        N.Outputs.empty() || N.Outputs[0] == NoId || N.input(0) == NoId)
      continue;
    Linear L;
    L.Product = Id;
    L.Weight = weightOf(G, N, L.Nodes);
    if (L.Weight == NoId || isConstant(G, N.input(0)))
      continue;
    L.Nodes.push_back(Id);
    L.In = N.input(0);
    L.Out = N.Outputs[0];
    if (N.Kind == OpKind::Gemm) {
      L.Bias = parameterOf(G, N.input(2));
    } else {
      if (NodeId UId = soleDataUser(G, L.Out); UId != NoId) {
        const Node &U = G.Nodes[UId];
        ValueId Other = U.input(0) == L.Out ? U.input(1) : U.input(0);
        ValueId B = U.Kind == OpKind::Add ? parameterOf(G, Other) : NoId;
        const TensorData *BT = G.initializer(B);
        if (BT && BT->Shape.size() == 1 && !U.Outputs.empty()) {
          L.BiasAdd = UId;
          L.Bias = B;
          L.Nodes.push_back(L.BiasAdd);
          L.Out = U.Outputs[0];
        }
      }
    }
    const Value &Out = G.Values[L.Out];
    if (Out.HasShape && !Out.Shape.empty())
      L.OutFeatures = Out.Shape.back();
    ByOut[L.Out] = All.size();
    ByProduct[Id] = All.size();
    All.push_back(std::move(L));
  }
}

const Linear *Linears::byOut(ValueId V) const {
  auto It = ByOut.find(V);
  return It == ByOut.end() ? nullptr : &All[It->second];
}

std::optional<LinearPart> structure::linearPartOf(const Graph &G,
                                                  const Linears &Ls, ValueId V) {
  const Node *Cut = producer(G, V);
  if (!Cut || (Cut->Kind != OpKind::Split && Cut->Kind != OpKind::Slice))
    return std::nullopt;
  const Linear *L = Ls.byOut(Cut->input(0));
  const Value &Whole = G.Values[Cut->input(0)];
  if (!L || !Whole.HasShape || Whole.Shape.empty())
    return std::nullopt;
  LinearPart Part;
  Part.L = L;
  Part.Cut = G.Values[V].Producer;
  const Value &Val = G.Values[V];
  Part.Width = Val.HasShape && !Val.Shape.empty() ? Val.Shape.back() : 0;
  if (Cut->Kind == OpKind::Split) {
    if (!isLastAxis(G, Cut->input(0), Cut->getInt("axis", 0)))
      return std::nullopt;
    for (unsigned I = 0; I < Cut->Outputs.size(); ++I)
      if (Cut->Outputs[I] == V)
        Part.Part = I;
    return Part;
  }
  // Slices of the same value: rank by start.
  auto StartOf = [&](const Node &S) -> std::optional<int64_t> {
    auto St = S.input(1) == NoId ? nullptr : G.Values[S.input(1)].Const;
    auto Ax = S.input(3) == NoId ? nullptr : G.Values[S.input(3)].Const;
    if (!St || St->size() != 1)
      return std::nullopt;
    if (Ax && (Ax->size() != 1 || !isLastAxis(G, S.input(0), Ax->integer(0))))
      return std::nullopt;
    if (!Ax && Whole.Shape.size() != 1)
      return std::nullopt;
    int64_t B = St->integer(0);
    return B < 0 ? B + Whole.Shape.back() : B;
  };
  auto Mine = StartOf(*Cut);
  if (!Mine)
    return std::nullopt;
  for (NodeId U : Whole.Users) {
    const Node &S = G.Nodes[U];
    if (S.Kind == OpKind::Slice && &S != Cut && S.input(0) == Cut->input(0))
      if (auto Other = StartOf(S); Other && *Other < *Mine)
        ++Part.Part;
  }
  return Part;
}
