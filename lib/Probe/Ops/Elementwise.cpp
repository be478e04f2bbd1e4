//===- Elementwise.cpp - unary, binary, Where, Cast: lowering and gradient ===//
#include "Layout.h"
#include "Rules.h"
#include <cmath>
#include <limits>

using namespace gradlint;
using namespace gradlint::probe;

namespace {

/// Reads a scalar host input (Clip's bounds, Trilu's k), or Default.
llvm::Expected<double> scalarIn(OpContext &C, const Node &N, unsigned I,
                                double Default) {
  auto H = C.hostIn(N, I);
  if (!H)
    return H.takeError();
  if (!*H)
    return Default;
  if ((*H)->size() != 1)
    return C.nodeError(N, "input " + llvm::Twine(I) + " must be a scalar");
  return (*H)->real(0);
}

/// The map a unary node computes, with its attributes.
llvm::Error resolveUnary(OpContext &C, const Node &N, const OpRule &R,
                         UnaryOp &Op, UnaryParams &P) {
  Op = R.Unary;
  P = R.Params;
  switch (Op) {
  case UnaryOp::LeakyRelu:
    P.Alpha = N.getFloat("alpha", 0.01f);
    break;
  case UnaryOp::Elu:
    P.Alpha = N.getFloat("alpha", 1.0f);
    break;
  case UnaryOp::Selu:
    P.Alpha = N.getFloat("alpha", 1.67326319217681884765625f);
    P.Gamma = N.getFloat("gamma", 1.05070102214813232421875f);
    break;
  case UnaryOp::HardSigmoid:
    P.Alpha = N.getFloat("alpha", 0.2f);
    P.Beta = N.getFloat("beta", 0.5f);
    break;
  case UnaryOp::QuickGelu:
    P.Alpha = N.getFloat("alpha", 1.702f);
    break;
  case UnaryOp::Gelu:
    if (N.getString("approximate", "none") == "tanh")
      Op = UnaryOp::GeluTanh;
    break;
  case UnaryOp::Clip: {
    float Lo = -std::numeric_limits<float>::infinity(), Hi = -Lo;
    if (N.Opset < 11) {
      Lo = N.getFloat("min", Lo);
      Hi = N.getFloat("max", Hi);
    } else {
      auto L = scalarIn(C, N, 1, Lo);
      if (!L)
        return L.takeError();
      auto H = scalarIn(C, N, 2, Hi);
      if (!H)
        return H.takeError();
      Lo = static_cast<float>(*L);
      Hi = static_cast<float>(*H);
    }
    P.Alpha = Lo;
    P.Beta = Hi;
    break;
  }
  default:
    break;
  }
  return llvm::Error::success();
}

/// Runs a unary map on X into a new tensor; saves what its gradient reads.
llvm::Expected<Tensor> applyUnary(OpContext &C, const Node &N, UnaryOp Op,
                                  const UnaryParams &P, const Tensor &X) {
  auto Y = C.alloc(X.Shape);
  if (!Y)
    return Y.takeError();
  C.B.unary(Op, P, X.ptr(), Y->ptr(), X.size());
  if (C.backwardNeeded(N)) {
    UnaryNeeds Needs = unaryNeeds(Op);
    C.save(N, Needs.X ? X : Tensor());
    C.save(N, Needs.Y ? *Y : Tensor());
  }
  return Y;
}

} // namespace

llvm::Error gradlint::probe::unaryForward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  UnaryOp Op;
  UnaryParams P;
  if (llvm::Error E = resolveUnary(C, N, R, Op, P))
    return E;
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto Y = applyUnary(C, N, Op, P, *X);
  if (!Y)
    return Y.takeError();
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::unaryBackward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0))
    return llvm::Error::success();
  UnaryOp Op;
  UnaryParams P;
  if (llvm::Error E = resolveUnary(C, N, R, Op, P))
    return E;
  if (Op == UnaryOp::Identity)
    return C.passGrad(N, 0, *DY);
  if (Op == UnaryOp::Neg)
    return C.passGrad(N, 0, *DY, -1);
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  C.B.unaryGrad(Op, P, C.saved(N, 0).ptr(), C.saved(N, 1).ptr(), DY->ptr(),
                T->T.ptr(), DY->size(), T->Acc);
  return llvm::Error::success();
}

//===--- Binary -----------------------------------------------------------===//

namespace {

llvm::Expected<Tensor> applyBinary(OpContext &C, const Node &N, BinaryOp Op,
                                   const Tensor &A, const Tensor &B,
                                   llvm::ArrayRef<int64_t> OutShape) {
  auto D = broadcastDesc(OutShape, {A.Shape, B.Shape});
  if (!D)
    return C.nodeError(N, llvm::toString(D.takeError()));
  auto Y = C.alloc(OutShape);
  if (!Y)
    return Y.takeError();
  C.B.binary(Op, *D, A.ptr(), B.ptr(), Y->ptr());
  return Y;
}

/// Gradients of one binary step Y = A op B into inputs IA and IB of N
/// (either may be ~0u when that operand needs none).
llvm::Error binaryGradOf(OpContext &C, const Node &N, BinaryOp Op,
                         const Tensor &A, const Tensor &B, const Tensor &Y,
                         const Tensor &DY, unsigned IA, unsigned IB) {
  bool NeedA = IA != ~0u && C.needsGrad(N, IA);
  bool NeedB = IB != ~0u && C.needsGrad(N, IB);
  if (!NeedA && !NeedB)
    return llvm::Error::success();
  if (Op == BinaryOp::Add || Op == BinaryOp::Sub) {
    if (NeedB)
      if (llvm::Error E = C.reduceGradInto(N, IB, DY, Op == BinaryOp::Sub ? -1 : 1))
        return E;
    if (NeedA)
      return C.reduceGradInto(N, IA, DY);
    return llvm::Error::success();
  }
  auto D = broadcastDesc(DY.Shape, {A.Shape, B.Shape});
  if (!D)
    return C.nodeError(N, llvm::toString(D.takeError()));
  // Full-size partials go straight into a gradient when shapes agree, else
  // into a temporary that is then summed down to the operand's shape.
  Tensor GA, GB;
  bool AccA = false, AccB = false, TmpA = false, TmpB = false;
  auto Target = [&](bool Need, unsigned I, const Tensor &Op, Tensor &G,
                    bool &Acc, bool &Tmp) -> llvm::Error {
    if (!Need)
      return llvm::Error::success();
    if (Op.size() == DY.size()) {
      auto T = C.gradIn(N, I);
      if (!T)
        return T.takeError();
      G = T->T;
      Acc = T->Acc;
      return llvm::Error::success();
    }
    auto T = C.alloc(DY.Shape);
    if (!T)
      return T.takeError();
    G = *T;
    Tmp = true;
    return llvm::Error::success();
  };
  if (llvm::Error E = Target(NeedA, IA, A, GA, AccA, TmpA))
    return E;
  if (llvm::Error E = Target(NeedB, IB, B, GB, AccB, TmpB))
    return E;
  C.B.binaryGrad(Op, *D, A.ptr(), B.ptr(), Y.ptr(), DY.ptr(), GA.ptr(), AccA,
                 GB.ptr(), AccB);
  if (TmpA)
    if (llvm::Error E = C.reduceGradInto(N, IA, GA))
      return E;
  if (TmpB)
    if (llvm::Error E = C.reduceGradInto(N, IB, GB))
      return E;
  return llvm::Error::success();
}

} // namespace

llvm::Error gradlint::probe::binaryForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  auto A = C.in(N, 0);
  if (!A)
    return A.takeError();
  auto B = C.in(N, 1);
  if (!B)
    return B.takeError();
  auto Y = applyBinary(C, N, R.Binary, *A, *B, C.outShape(N, 0));
  if (!Y)
    return Y.takeError();
  if (C.backwardNeeded(N) && R.Binary != BinaryOp::Add &&
      R.Binary != BinaryOp::Sub) {
    C.save(N, *A);
    C.save(N, *B);
    C.save(N, R.Binary == BinaryOp::Pow ? *Y : Tensor());
  }
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::binaryBackward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  if (R.Binary == BinaryOp::Add || R.Binary == BinaryOp::Sub)
    return binaryGradOf(C, N, R.Binary, Tensor(), Tensor(), Tensor(), *DY, 0, 1);
  return binaryGradOf(C, N, R.Binary, C.saved(N, 0), C.saved(N, 1),
                      C.saved(N, 2), *DY, 0, 1);
}

/// Sum, Max, Min over any number of inputs, folded left to right.
llvm::Error gradlint::probe::variadicForward(OpContext &C, const Node &N,
                                             const OpRule &R) {
  auto Acc = C.in(N, 0);
  if (!Acc)
    return Acc.takeError();
  Tensor Y = *Acc;
  if (C.backwardNeeded(N))
    C.save(N, Y);
  for (unsigned I = 1; I < N.Inputs.size(); ++I) {
    auto X = C.in(N, I);
    if (!X)
      return X.takeError();
    Dims Shape;
    if (!broadcastShapes(Y.Shape, X->Shape, Shape))
      return C.nodeError(N, "inputs do not broadcast");
    auto Next = applyBinary(C, N, R.Binary, Y, *X, Shape);
    if (!Next)
      return Next.takeError();
    Y = *Next;
    if (C.backwardNeeded(N))
      C.save(N, *X);
  }
  if (C.backwardNeeded(N))
    C.save(N, Y);
  return C.out(N, 0, Y);
}

llvm::Error gradlint::probe::variadicBackward(OpContext &C, const Node &N,
                                              const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  unsigned Count = N.Inputs.size();
  if (R.Binary == BinaryOp::Add || Count == 1) {
    for (unsigned I = 0; I != Count; ++I)
      if (llvm::Error E = C.reduceGradInto(N, I, *DY))
        return E;
    return llvm::Error::success();
  }
  if (Count != 2)
    return C.nodeError(N, "the gradient of " + N.OpType +
                              " over more than two inputs is not implemented");
  return binaryGradOf(C, N, R.Binary, C.saved(N, 0), C.saved(N, 1),
                      C.saved(N, 2), *DY, 0, 1);
}

/// FastGelu(X, bias) and BiasGelu(X, bias): the map applied to X + bias.
llvm::Error gradlint::probe::biasUnaryForward(OpContext &C, const Node &N,
                                              const OpRule &R) {
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  Tensor T = *X;
  if (C.has(N, 1)) {
    auto Bias = C.in(N, 1);
    if (!Bias)
      return Bias.takeError();
    auto Sum = applyBinary(C, N, BinaryOp::Add, *X, *Bias, C.outShape(N, 0));
    if (!Sum)
      return Sum.takeError();
    T = *Sum;
  }
  if (C.backwardNeeded(N))
    C.save(N, T);
  auto Y = C.alloc(T.Shape);
  if (!Y)
    return Y.takeError();
  C.B.unary(R.Unary, R.Params, T.ptr(), Y->ptr(), T.size());
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::biasUnaryBackward(OpContext &C, const Node &N,
                                               const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  const Tensor &T = C.saved(N, 0);
  auto DT = C.alloc(T.Shape);
  if (!DT)
    return DT.takeError();
  C.B.unaryGrad(R.Unary, R.Params, T.ptr(), FPtr(), DY->ptr(), DT->ptr(),
                T.size(), false);
  if (C.has(N, 1))
    if (llvm::Error E = C.reduceGradInto(N, 1, *DT))
      return E;
  return C.reduceGradInto(N, 0, *DT);
}

//===--- Identity, Dropout, Cast ------------------------------------------===//

llvm::Error gradlint::probe::identityForward(OpContext &C, const Node &N,
                                             const OpRule &R) {
  if (N.Kind == OpKind::Dropout && N.Opset >= 12 && C.has(N, 2)) {
    auto Training = C.hostIn(N, 2);
    if (!Training)
      return Training.takeError();
    auto Ratio = scalarIn(C, N, 1, 0.5);
    if (!Ratio)
      return Ratio.takeError();
    if ((*Training)->real(0) != 0 && *Ratio != 0)
      return C.nodeError(N, "training-mode dropout is random; the probe runs "
                            "dropout in inference mode (ratio 0) only");
  }
  if (N.Outputs.size() > 1 && N.Outputs[1] != NoId) {
    // Dropout's mask: every element kept.
    auto Mask = std::make_shared<HostTensor>();
    Mask->Type = DataType::Bool;
    Mask->Shape = C.outShape(N, 1);
    Mask->Ints.assign(product(Mask->Shape), 1);
    C.outHost(N, 1, Mask);
  }
  if (C.onHost(N, 0) && !C.isFloat(N.Outputs[0])) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    C.outHost(N, 0, *H);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  return C.out(N, 0, *X);
}

llvm::Error gradlint::probe::identityBackward(OpContext &C, const Node &N,
                                              const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  return C.passGrad(N, 0, *DY);
}

/// Cast to a float type: float16/bfloat16 targets round (values are kept in
/// float32), wider ones are exact; integer sources are converted on upload.
llvm::Error gradlint::probe::castForward(OpContext &C, const Node &N,
                                         const OpRule &R) {
  DataType To = C.G.Values[N.Outputs[0]].Type;
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  UnaryOp Round = To == DataType::Float16    ? UnaryOp::RoundHalf
                  : To == DataType::BFloat16 ? UnaryOp::RoundBFloat16
                                             : UnaryOp::Identity;
  if (Round == UnaryOp::Identity)
    return C.out(N, 0, *X);
  auto Y = C.alloc(X->Shape);
  if (!Y)
    return Y.takeError();
  C.B.unary(Round, UnaryParams(), X->ptr(), Y->ptr(), X->size());
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::castBackward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  return C.passGrad(N, 0, *DY); // straight through, as torch's .to()
}

//===--- Where ------------------------------------------------------------===//

llvm::Error gradlint::probe::whereForward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  auto Cond = C.hostIn(N, 0);
  if (!Cond)
    return Cond.takeError();
  auto Mask = C.uploadMask(**Cond);
  if (!Mask)
    return Mask.takeError();
  auto A = C.in(N, 1);
  if (!A)
    return A.takeError();
  auto B = C.in(N, 2);
  if (!B)
    return B.takeError();
  auto D = broadcastDesc(C.outShape(N, 0), {(*Cond)->Shape, A->Shape, B->Shape});
  if (!D)
    return C.nodeError(N, llvm::toString(D.takeError()));
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  C.B.where(*D, Mask->bytes(), A->ptr(), B->ptr(), Y->ptr());
  if (C.backwardNeeded(N)) {
    C.save(N, *Mask);
    C.save(N, *Cond);
  }
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::whereBackward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  const HostPtr &Cond = C.savedHost(N, 0);
  auto D = broadcastDesc(DY->Shape, {Cond->Shape});
  if (!D)
    return C.nodeError(N, llvm::toString(D.takeError()));
  Tensor G[2];
  bool Acc[2] = {false, false}, Tmp[2] = {false, false};
  for (unsigned K = 0; K != 2; ++K) {
    if (!C.needsGrad(N, K + 1))
      continue;
    if (product(C.inShape(N, K + 1)) == DY->size()) {
      auto T = C.gradIn(N, K + 1);
      if (!T)
        return T.takeError();
      G[K] = T->T;
      Acc[K] = T->Acc;
    } else {
      auto T = C.alloc(DY->Shape);
      if (!T)
        return T.takeError();
      G[K] = *T;
      Tmp[K] = true;
    }
  }
  C.B.whereGrad(*D, C.savedArray(N, 0).bytes(), DY->ptr(), G[0].ptr(), Acc[0],
                G[1].ptr(), Acc[1]);
  for (unsigned K = 0; K != 2; ++K)
    if (Tmp[K])
      if (llvm::Error E = C.reduceGradInto(N, K + 1, G[K]))
        return E;
  return llvm::Error::success();
}
