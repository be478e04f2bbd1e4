//===- Normalization.cpp - LayerNorm, RMSNorm and fused variants ----------===//
//
//   LayerNormalization(X, scale, bias)          axis, epsilon; Y, Mean, InvStd
//   RMSNormalization(X, scale)                  axis, epsilon (opset 23)
//   SimplifiedLayerNormalization(X, scale)      RMS; Y, InvStd
//   SkipLayerNormalization(X, skip, g, b, bias) LN of X + skip + bias; Y, Mean,
//                                               InvStd, the sum
//   SkipSimplifiedLayerNormalization(X, skip, g, bias)   RMS of the same
//
// Scale and bias must cover the normalized dimensions (broadcast ones are
// expanded first). Gradients flow into X (and skip, bias) and the affine
// parameters; not through the Mean/InvStd outputs.
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {

/// Input positions and flags of one variant.
struct NormLayout {
  bool RMS = false, Skip = false;
  unsigned Gamma = 1, Beta = ~0u, Bias = ~0u;
  unsigned MeanOut = ~0u, InvOut = ~0u, SumOut = ~0u;
};

NormLayout layoutOf(NormVariant V) {
  NormLayout L;
  switch (V) {
  case NormVariant::LayerNorm:
    L.Beta = 2, L.MeanOut = 1, L.InvOut = 2;
    break;
  case NormVariant::RMSNorm:
    L.RMS = true;
    break;
  case NormVariant::Simplified:
    L.RMS = true, L.InvOut = 1;
    break;
  case NormVariant::Skip:
    L.Skip = true, L.Gamma = 2, L.Beta = 3, L.Bias = 4;
    L.MeanOut = 1, L.InvOut = 2, L.SumOut = 3;
    break;
  case NormVariant::SkipSimplified:
    L.RMS = L.Skip = true, L.Gamma = 2, L.Bias = 3;
    L.MeanOut = 1, L.InvOut = 2, L.SumOut = 3;
    break;
  }
  return L;
}

/// The normalized dimensions: the fused ops normalize the last axis, the
/// others everything from `axis` on. Rows is the product of the rest.
Dims normShape(const Node &N, const NormLayout &L, llvm::ArrayRef<int64_t> S,
               int64_t &Rows, int64_t &Cols) {
  int64_t R = S.size();
  int64_t Axis = L.Skip ? -1 : N.getInt("axis", -1);
  if (Axis < 0)
    Axis += R;
  Axis = std::clamp<int64_t>(Axis, 0, R);
  Rows = product(S.take_front(Axis));
  Cols = product(S.drop_front(Axis));
  return Dims(S.begin() + Axis, S.end());
}

/// A parameter expanded to Cols elements when it broadcasts.
llvm::Expected<Tensor> paramIn(OpContext &C, const Node &N, unsigned I,
                               llvm::ArrayRef<int64_t> NormShape) {
  auto P = C.in(N, I);
  if (!P)
    return P.takeError();
  if (P->size() == product(NormShape))
    return P;
  auto D = broadcastDesc(NormShape, {P->Shape});
  if (!D)
    return C.nodeError(N, "scale or bias does not broadcast to the normalized "
                          "dimensions");
  auto Full = C.alloc(NormShape);
  if (!Full)
    return Full.takeError();
  CopyPlan CP;
  CP.Shape.assign(D->Shape, D->Shape + D->Rank);
  CP.Src.assign(D->Stride[0], D->Stride[0] + D->Rank);
  CP.Dst = denseStrides(CP.Shape);
  auto CD = CP.build();
  if (!CD)
    return CD.takeError();
  C.B.copy(*CD, P->ptr(), Full->ptr(), false);
  return Full;
}

} // namespace

llvm::Error gradlint::probe::normForward(OpContext &C, const Node &N,
                                         const OpRule &R) {
  NormLayout L = layoutOf(static_cast<NormVariant>(R.Variant));
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  Tensor S = *X;
  if (L.Skip) { // S = X + skip (+ bias)
    for (unsigned I : {1u, L.Bias}) {
      if (!C.has(N, I))
        continue;
      auto Other = C.in(N, I);
      if (!Other)
        return Other.takeError();
      auto D = broadcastDesc(X->Shape, {S.Shape, Other->Shape});
      if (!D)
        return C.nodeError(N, "skip or bias does not broadcast to the input");
      auto Sum = C.alloc(X->Shape);
      if (!Sum)
        return Sum.takeError();
      C.B.binary(BinaryOp::Add, *D, S.ptr(), Other->ptr(), Sum->ptr());
      S = *Sum;
    }
    if (L.SumOut < N.Outputs.size())
      if (llvm::Error E = C.out(N, L.SumOut, S))
        return E;
  }
  int64_t Rows, Cols;
  Dims NS = normShape(N, L, S.Shape, Rows, Cols);
  auto Gamma = paramIn(C, N, L.Gamma, NS);
  if (!Gamma)
    return Gamma.takeError();
  Tensor Beta;
  if (L.Beta != ~0u && C.has(N, L.Beta)) {
    auto B = paramIn(C, N, L.Beta, NS);
    if (!B)
      return B.takeError();
    Beta = *B;
  }
  NormDesc D;
  D.Rows = Rows, D.Cols = Cols, D.RMS = L.RMS;
  D.Epsilon = N.getFloat("epsilon", 1e-5f);
  auto Y = C.alloc(S.Shape);
  auto Mean = C.alloc({Rows});
  auto Inv = C.alloc({Rows});
  if (!Y || !Mean || !Inv)
    return llvm::joinErrors(llvm::joinErrors(Y.takeError(), Mean.takeError()),
                            Inv.takeError());
  C.B.norm(D, S.ptr(), Gamma->ptr(), Beta.ptr(), Y->ptr(), L.RMS ? FPtr() : Mean->ptr(),
           Inv->ptr());
  if (L.MeanOut < N.Outputs.size() && N.Outputs[L.MeanOut] != NoId) {
    if (L.RMS)
      C.B.fill(Mean->ptr(), Rows, 0.0f);
    if (llvm::Error E = C.out(N, L.MeanOut, *Mean))
      return E;
  }
  if (L.InvOut < N.Outputs.size())
    if (llvm::Error E = C.out(N, L.InvOut, *Inv))
      return E;
  if (C.backwardNeeded(N)) {
    C.save(N, S);
    C.save(N, *Gamma);
    C.save(N, *Mean);
    C.save(N, *Inv);
  }
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::normBackward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  NormLayout L = layoutOf(static_cast<NormVariant>(R.Variant));
  for (unsigned O : {L.MeanOut, L.InvOut})
    if (O < N.Outputs.size() && C.gradOut(N, O))
      return C.nodeError(N, "a gradient through the mean or inverse standard "
                            "deviation output is not supported");
  const Tensor *DY = C.gradOut(N, 0);
  const Tensor *DSum = L.SumOut < N.Outputs.size() ? C.gradOut(N, L.SumOut) : nullptr;
  if (!DY && !DSum)
    return llvm::Error::success();
  const Tensor &S = C.saved(N, 0), &Gamma = C.saved(N, 1);
  const Tensor &Mean = C.saved(N, 2), &Inv = C.saved(N, 3);
  int64_t Rows, Cols;
  normShape(N, L, S.Shape, Rows, Cols);
  NormDesc D;
  D.Rows = Rows, D.Cols = Cols, D.RMS = L.RMS;
  D.Epsilon = N.getFloat("epsilon", 1e-5f);
  bool NeedGamma = C.needsGrad(N, L.Gamma);
  bool NeedBeta = L.Beta != ~0u && C.has(N, L.Beta) && C.needsGrad(N, L.Beta);
  bool NeedX = C.needsGrad(N, 0) || (L.Skip && (C.needsGrad(N, 1) ||
                                               (C.has(N, L.Bias) && C.needsGrad(N, L.Bias))));
  // Gradients w.r.t. the normalized input go to X directly, or (fused skip
  // ops, or when the sum output has its own gradient) to a temporary.
  Tensor DS;
  bool AccS = false, Direct = !L.Skip && C.needsGrad(N, 0);
  if (NeedX) {
    if (Direct) {
      auto T = C.gradIn(N, 0);
      if (!T)
        return T.takeError();
      DS = T->T;
      AccS = T->Acc;
    } else {
      auto T = C.alloc(S.Shape);
      if (!T)
        return T.takeError();
      DS = *T;
      if (DSum) {
        C.B.copy(denseCopy(DS.size()), DSum->ptr(), DS.ptr(), false);
        AccS = true;
      }
    }
  }
  if (DY) {
    // Parameter gradients come out dense over Cols; broadcast ones sum down.
    Tensor DG, DB;
    bool AccP = false;
    if (NeedGamma || NeedBeta) {
      auto TG = C.alloc({Cols});
      auto TB = C.alloc({Cols});
      if (!TG || !TB)
        return llvm::joinErrors(TG.takeError(), TB.takeError());
      if (NeedGamma)
        DG = *TG;
      if (NeedBeta)
        DB = *TB;
    }
    C.B.normGrad(D, S.ptr(), Gamma.ptr(), Mean.ptr(), Inv.ptr(), DY->ptr(),
                 NeedX ? DS.ptr() : FPtr(), AccS, DG.ptr(), DB.ptr(), AccP);
    if (NeedGamma)
      if (llvm::Error E = C.reduceGradInto(N, L.Gamma, DG.view(Gamma.Shape)))
        return E;
    if (NeedBeta)
      if (llvm::Error E = C.reduceGradInto(N, L.Beta, DB.view(Gamma.Shape)))
        return E;
  }
  if (!NeedX || Direct)
    return llvm::Error::success();
  if (L.Skip && C.has(N, L.Bias))
    if (llvm::Error E = C.reduceGradInto(N, L.Bias, DS))
      return E;
  if (L.Skip)
    if (llvm::Error E = C.reduceGradInto(N, 1, DS))
      return E;
  return C.reduceGradInto(N, 0, DS);
}
