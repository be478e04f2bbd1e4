//===- Reduction.cpp - ReduceSum, ReduceMean, ReduceMax -------------------===//
//
// Axes come from the `axes` attribute (ReduceSum before opset 13, the others
// before 18) or the second input. The gradient of a sum or mean broadcasts
// dY back (a strided copy with stride 0 on the reduced axes); a maximum's
// goes to the maximal elements, shared evenly among ties.
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {

/// The reduced-axis mask of N over an input of rank R (empty axes: all, or
/// none with noop_with_empty_axes).
llvm::Expected<std::vector<bool>> reducedAxes(OpContext &C, const Node &N,
                                              size_t R) {
  std::vector<int64_t> Axes;
  bool FromInput = (N.Kind == OpKind::ReduceSum && N.Opset >= 13) ||
                   (N.Kind != OpKind::ReduceSum && N.Opset >= 18);
  if (FromInput) {
    auto H = C.hostIn(N, 1);
    if (!H)
      return H.takeError();
    if (*H)
      for (size_t I = 0; I != (*H)->size(); ++I)
        Axes.push_back((*H)->integer(I));
  } else {
    llvm::ArrayRef<int64_t> A = N.getInts("axes");
    Axes.assign(A.begin(), A.end());
  }
  std::vector<bool> Mask(R, false);
  if (Axes.empty()) {
    if (!N.getInt("noop_with_empty_axes", 0))
      Mask.assign(R, true);
    return Mask;
  }
  for (int64_t A : Axes) {
    if (A < 0)
      A += R;
    if (A < 0 || A >= static_cast<int64_t>(R))
      return C.nodeError(N, "axis " + llvm::Twine(A) + " out of range");
    Mask[A] = true;
  }
  return Mask;
}

llvm::Expected<ReduceDesc> descOf(OpContext &C, const Node &N, const OpRule &R,
                                  llvm::ArrayRef<int64_t> Shape) {
  auto Mask = reducedAxes(C, N, Shape.size());
  if (!Mask)
    return Mask.takeError();
  // Express as the sum of a dense tensor down to the kept shape.
  Dims Kept;
  int64_t Count = 1;
  for (size_t I = 0; I != Shape.size(); ++I) {
    Kept.push_back((*Mask)[I] ? 1 : Shape[I]);
    if ((*Mask)[I])
      Count *= Shape[I];
  }
  auto D = sumToDesc(Shape, Kept);
  if (!D)
    return C.nodeError(N, llvm::toString(D.takeError()));
  auto V = static_cast<ReduceVariant>(R.Variant);
  D->Kind = V == ReduceVariant::Max ? ReduceKind::Max : ReduceKind::Sum;
  D->Scale = V == ReduceVariant::Mean && Count ? 1.0f / Count : 1.0f;
  return D;
}

} // namespace

llvm::Error gradlint::probe::reduceForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto D = descOf(C, N, R, X->Shape);
  if (!D)
    return D.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  C.B.reduce(*D, X->ptr(), Y->ptr(), false);
  if (C.backwardNeeded(N)) {
    C.save(N, *X);
    C.save(N, *Y);
  }
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::reduceBackward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0))
    return llvm::Error::success();
  const Tensor &X = C.saved(N, 0), &Y = C.saved(N, 1);
  auto D = descOf(C, N, R, X.Shape);
  if (!D)
    return D.takeError();
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  if (D->Kind == ReduceKind::Max) {
    C.B.reduceMaxGrad(*D, X.ptr(), Y.ptr(), DY->ptr(), T->T.ptr(), T->Acc);
    return llvm::Error::success();
  }
  // dX = Scale * dY broadcast along the reduced axes.
  CopyPlan P;
  P.Alpha = D->Scale;
  int64_t Stride = 1;
  for (int I = static_cast<int>(D->Rank) - 1; I >= 0; --I) {
    P.Shape.insert(P.Shape.begin(), D->Shape[I]);
    P.Src.insert(P.Src.begin(), D->Reduced[I] ? 0 : Stride);
    if (!D->Reduced[I])
      Stride *= D->Shape[I];
  }
  P.Dst = denseStrides(P.Shape);
  auto CD = P.build();
  if (!CD)
    return CD.takeError();
  C.B.copy(*CD, DY->ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}
