//===- Loss.cpp - SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss ------===//
//
// scores [N, C, d...] -> (SoftmaxCrossEntropyLoss only) log-softmax over C
// -> per-element -weight[t] * logp[n, t, d] -> reduction none | sum | mean
// (mean divides by the sum of the weights that were not ignored).
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {
struct LossShape {
  NllDesc D;
  SoftmaxDesc S;
  bool Softmax;
  std::string Reduction;
};

llvm::Expected<LossShape> lossShape(OpContext &C, const Node &N,
                                    const OpRule &R) {
  const Dims &X = C.inShape(N, 0);
  if (X.size() < 2)
    return C.nodeError(N, "scores need a class dimension");
  LossShape L;
  L.Softmax = static_cast<LossVariant>(R.Variant) == LossVariant::SoftmaxCrossEntropy;
  L.D.N = X[0];
  L.D.C = X[1];
  L.D.Inner = product(llvm::ArrayRef<int64_t>(X).drop_front(2));
  if (const Attribute *A = N.attr("ignore_index")) {
    L.D.HasIgnore = true;
    L.D.IgnoreIndex = A->I;
  }
  L.S.Outer = L.D.N;
  L.S.Axis = L.D.C;
  L.S.Inner = L.D.Inner;
  L.S.Log = true;
  L.Reduction = N.getString("reduction", "mean").str();
  if (L.Reduction != "none" && L.Reduction != "sum" && L.Reduction != "mean")
    return C.nodeError(N, "unknown reduction '" + L.Reduction + "'");
  return L;
}

ReduceDesc sumAll(int64_t N) {
  ReduceDesc D;
  D.Rank = 1;
  D.Shape[0] = N;
  D.Reduced[0] = true;
  return D;
}
} // namespace

llvm::Error gradlint::probe::lossForward(OpContext &C, const Node &N,
                                         const OpRule &R) {
  auto L = lossShape(C, N, R);
  if (!L)
    return L.takeError();
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  Tensor LogP = *X;
  if (L->Softmax) {
    auto T = C.alloc(X->Shape);
    if (!T)
      return T.takeError();
    C.B.softmax(L->S, X->ptr(), T->ptr());
    LogP = *T;
    if (N.Outputs.size() > 1)
      if (llvm::Error E = C.out(N, 1, LogP))
        return E;
  }
  auto H = C.hostIn(N, 1);
  if (!H)
    return H.takeError();
  for (size_t I = 0; I != (*H)->size(); ++I) {
    int64_t T = (*H)->integer(I);
    if ((T < 0 || T >= L->D.C) && !(L->D.HasIgnore && T == L->D.IgnoreIndex))
      return C.nodeError(N, "target " + llvm::Twine(T) + " is not a class in [0, " +
                                llvm::Twine(L->D.C) + ")");
  }
  auto Targets = C.uploadInts((*H)->Ints);
  if (!Targets)
    return Targets.takeError();
  Tensor Weight;
  if (C.has(N, 2)) {
    auto W = C.in(N, 2);
    if (!W)
      return W.takeError();
    Weight = *W;
  }
  int64_t M = L->D.N * L->D.Inner;
  auto Loss = C.alloc({M});
  auto W = C.alloc({M});
  if (!Loss || !W)
    return llvm::joinErrors(Loss.takeError(), W.takeError());
  C.B.nll(L->D, LogP.ptr(), Targets->ints(), Weight.ptr(), Loss->ptr(), W->ptr());
  Tensor Y = *Loss, WSum;
  if (L->Reduction != "none") {
    auto S = C.allocOut(N, 0);
    if (!S)
      return S.takeError();
    C.B.reduce(sumAll(M), Loss->ptr(), S->ptr(), false);
    Y = *S;
    if (L->Reduction == "mean") {
      auto WS = C.alloc({1});
      auto Mean = C.allocOut(N, 0);
      if (!WS || !Mean)
        return llvm::joinErrors(WS.takeError(), Mean.takeError());
      C.B.reduce(sumAll(M), W->ptr(), WS->ptr(), false);
      BroadcastDesc D; // scalar / scalar
      C.B.binary(BinaryOp::Div, D, S->ptr(), WS->ptr(), Mean->ptr());
      Y = *Mean;
      WSum = *WS;
    }
  }
  if (C.backwardNeeded(N)) {
    C.save(N, LogP);
    C.save(N, *W);
    C.save(N, WSum);
    C.save(N, *Targets);
  }
  return C.out(N, 0, Y);
}

llvm::Error gradlint::probe::lossBackward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  const Tensor *DOut = C.gradOut(N, 0);
  const Tensor *DLogPOut = N.Outputs.size() > 1 ? C.gradOut(N, 1) : nullptr;
  if (!DOut && !DLogPOut)
    return llvm::Error::success();
  auto L = lossShape(C, N, R);
  if (!L)
    return L.takeError();
  const Tensor &LogP = C.saved(N, 0), &W = C.saved(N, 1), &WSum = C.saved(N, 2);
  int64_t M = L->D.N * L->D.Inner;
  auto DLogP = C.alloc(LogP.Shape);
  if (!DLogP)
    return DLogP.takeError();
  bool Acc = false;
  if (DOut) {
    auto DLoss = C.alloc({M});
    if (!DLoss)
      return DLoss.takeError();
    if (L->Reduction == "none") {
      C.B.copy(denseCopy(M), DOut->ptr(), DLoss->ptr(), false);
    } else {
      // dOut (divided by the weight sum for a mean) at each of M elements.
      BroadcastDesc D;
      D.Rank = 1;
      D.Shape[0] = M;
      if (L->Reduction == "mean") {
        C.B.binary(BinaryOp::Div, D, DOut->ptr(), WSum.ptr(), DLoss->ptr());
      } else {
        CopyDesc B = denseCopy(M);
        B.SrcStride[0] = 0;
        C.B.copy(B, DOut->ptr(), DLoss->ptr(), false);
      }
    }
    C.B.nllGrad(L->D, C.savedArray(N, 0).ints(), W.ptr(), DLoss->ptr(),
                DLogP->ptr(), false);
    Acc = true;
  }
  if (DLogPOut)
    C.B.copy(denseCopy(LogP.size()), DLogPOut->ptr(), DLogP->ptr(), Acc);
  if (!L->Softmax)
    return C.passGrad(N, 0, *DLogP);
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  C.B.softmaxGrad(L->S, LogP.ptr(), DLogP->ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}
