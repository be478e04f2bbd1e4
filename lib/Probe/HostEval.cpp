//===- HostEval.cpp - integer ops the constant folder leaves out ----------===//
//
// Integer and bool values are computed on the host. The shape folder
// (foldNode) evaluates most ops exactly; these are the rest that integer
// data meets in practice: Clip and the reductions.
//
//===----------------------------------------------------------------------===//
#include "HostEval.h"
#include "Ops/Layout.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {

HostPtr clip(const Node &N, llvm::ArrayRef<HostPtr> In) {
  auto Out = std::make_shared<HostTensor>(*In[0]);
  int64_t Lo = INT64_MIN, Hi = INT64_MAX;
  if (In.size() > 1 && In[1])
    Lo = In[1]->integer(0);
  if (In.size() > 2 && In[2])
    Hi = In[2]->integer(0);
  for (int64_t &X : Out->Ints)
    X = std::min(std::max(X, Lo), Hi);
  return Out;
}

HostPtr reduce(const Graph &G, const Node &N, llvm::ArrayRef<HostPtr> In) {
  const HostTensor &X = *In[0];
  size_t R = X.Shape.size();
  std::vector<int64_t> Axes;
  if (In.size() > 1 && In[1])
    for (size_t I = 0; I != In[1]->size(); ++I)
      Axes.push_back(In[1]->integer(I));
  else
    for (int64_t A : N.getInts("axes"))
      Axes.push_back(A);
  std::vector<bool> Red(R, Axes.empty() && !N.getInt("noop_with_empty_axes", 0));
  for (int64_t A : Axes)
    Red[A < 0 ? A + R : A] = true;
  const Value &OutV = G.Values[N.Outputs[0]];
  auto Out = std::make_shared<HostTensor>();
  Out->Type = OutV.Type;
  Out->Shape = OutV.Shape;
  int64_t Kept = 1, Count = 1;
  for (size_t I = 0; I != R; ++I)
    (Red[I] ? Count : Kept) *= X.Shape[I];
  bool Max = N.Kind == OpKind::ReduceMax, Mean = N.Kind == OpKind::ReduceMean;
  Out->Ints.assign(Kept, Max ? INT64_MIN : 0);
  Dims S = denseStrides(X.Shape);
  for (size_t K = 0; K != X.size(); ++K) {
    int64_t O = 0, Rest = K;
    for (size_t I = 0; I != R; ++I) {
      int64_t Idx = Rest / S[I];
      Rest %= S[I];
      if (!Red[I])
        O = O * X.Shape[I] + Idx;
    }
    int64_t V = X.integer(K);
    Out->Ints[O] = Max ? std::max(Out->Ints[O], V) : Out->Ints[O] + V;
  }
  if (Mean && Count)
    for (int64_t &V : Out->Ints)
      V /= Count;
  return Out;
}

} // namespace

std::vector<HostPtr> gradlint::probe::evalOnHost(const Graph &G, const Node &N,
                                                 llvm::ArrayRef<HostPtr> In) {
  std::vector<HostPtr> Out = foldNode(G, N, In);
  if (!Out.empty() || In.empty() || !In[0] || !In[0]->isInteger())
    return Out;
  switch (N.Kind) {
  case OpKind::Clip:
    return {clip(N, In)};
  case OpKind::ReduceMax:
  case OpKind::ReduceSum:
  case OpKind::ReduceMean:
    return {reduce(G, N, In)};
  default:
    return {};
  }
}
