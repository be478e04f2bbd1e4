//===- Source.cpp - Constant, ConstantOfShape, Range too large to fold ----===//
//
// Shape inference folds these when they are small; this computes the rest
// on the host and uploads float results. No gradient flows from them.
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"
#include <cmath>

using namespace gradlint;
using namespace gradlint::probe;

llvm::Error gradlint::probe::sourceForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  auto H = std::make_shared<HostTensor>();
  H->Type = C.G.Values[N.Outputs[0]].Type;
  H->Shape = C.outShape(N, 0);
  int64_t Count = product(H->Shape);
  auto Put = [&](int64_t I, double V) {
    if (H->isInteger())
      H->Ints[I] = static_cast<int64_t>(V);
    else
      H->Reals[I] = V;
  };
  if (H->isInteger())
    H->Ints.assign(Count, 0);
  else
    H->Reals.assign(Count, 0);
  if (N.Kind == OpKind::Constant) {
    const Attribute *A = N.attr("value");
    if (!A || A->Kind != AttrKind::Tensor)
      return C.nodeError(N, "only tensor-valued constants this large are supported");
    const TensorData &T = C.G.Tensors[A->Tensor];
    std::vector<double> V;
    if (!T.toDoubles(V) || static_cast<int64_t>(V.size()) != Count)
      return C.nodeError(N, "cannot read the constant's value");
    for (int64_t I = 0; I < Count; ++I)
      Put(I, V[I]);
  } else if (N.Kind == OpKind::ConstantOfShape) {
    double Fill = 0;
    if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor) {
      std::vector<double> V;
      if (C.G.Tensors[A->Tensor].toDoubles(V) && !V.empty())
        Fill = V[0];
    }
    for (int64_t I = 0; I < Count; ++I)
      Put(I, Fill);
  } else { // Range
    double Start = 0, Delta = 1;
    for (unsigned K : {0u, 2u}) {
      auto S = C.hostIn(N, K);
      if (!S)
        return S.takeError();
      if (!*S || (*S)->size() != 1)
        return C.nodeError(N, "start and delta must be scalars");
      (K == 0 ? Start : Delta) = (*S)->real(0);
    }
    for (int64_t I = 0; I < Count; ++I)
      Put(I, Start + I * Delta);
  }
  if (!C.isFloat(N.Outputs[0])) {
    C.outHost(N, 0, H);
    return llvm::Error::success();
  }
  std::vector<float> F = toFloats(*H);
  auto T = C.allocOut(N, 0);
  if (!T)
    return T.takeError();
  C.B.upload(T->Buf->base(), 0, F.data(), F.size() * 4);
  return C.out(N, 0, *T);
}
