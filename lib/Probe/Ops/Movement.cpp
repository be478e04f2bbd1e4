//===- Movement.cpp - reshapes, transposes, slices, concat, split, expand -===//
//
// Each op becomes strided copies (CopyDesc); the same descriptors move
// integer data on the host (hostCopy) and float data on the device, and the
// gradient is the copy run the other way (adding into the input gradient).
// Reshape-like ops copy nothing: the output is a view.
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {

bool onHostPath(OpContext &C, const Node &N) {
  return !C.isFloat(N.Outputs[0]);
}

/// A new host tensor shaped like output I of N.
std::shared_ptr<HostTensor> hostOut(OpContext &C, const Node &N, unsigned I) {
  auto H = std::make_shared<HostTensor>();
  H->Type = C.G.Values[N.Outputs[I]].Type;
  H->Shape = C.outShape(N, I);
  int64_t Count = product(H->Shape);
  if (H->isInteger())
    H->Ints.assign(Count, 0);
  else
    H->Reals.assign(Count, 0);
  return H;
}

/// Runs D from In (at SrcOff) into Out (at DstOff), host or device.
llvm::Error move(OpContext &C, const CopyPlan &P, const HostTensor *In,
                 int64_t SrcOff, HostTensor *Out, int64_t DstOff) {
  auto D = P.build();
  if (!D)
    return D.takeError();
  if (Out->isInteger()) {
    std::vector<int64_t> Src = In->Ints;
    if (!In->isInteger())
      for (double R : In->Reals)
        Src.push_back(static_cast<int64_t>(R));
    hostCopy(*D, Src.data() + SrcOff, Out->Ints.data() + DstOff);
  } else {
    std::vector<double> Src = In->Reals;
    if (In->isInteger())
      for (int64_t V : In->Ints)
        Src.push_back(static_cast<double>(V));
    hostCopy(*D, Src.data() + SrcOff, Out->Reals.data() + DstOff);
  }
  return llvm::Error::success();
}

llvm::Error moveDevice(OpContext &C, const CopyPlan &P, FPtr Src, FPtr Dst,
                       bool Acc) {
  auto D = P.build();
  if (!D)
    return D.takeError();
  C.B.copy(*D, Src, Dst, Acc);
  return llvm::Error::success();
}

/// Start and step of every axis of a Slice (ONNX clamping rules).
llvm::Error sliceParams(OpContext &C, const Node &N, llvm::ArrayRef<int64_t> Shape,
                        Dims &Start, Dims &Step) {
  size_t R = Shape.size();
  Start.assign(R, 0);
  Step.assign(R, 1);
  std::vector<int64_t> Starts, Ends, Axes, Steps;
  auto Read = [&](unsigned I, std::vector<int64_t> &Out) -> llvm::Error {
    auto H = C.hostIn(N, I);
    if (!H)
      return H.takeError();
    if (*H)
      for (size_t K = 0; K != (*H)->size(); ++K)
        Out.push_back((*H)->integer(K));
    return llvm::Error::success();
  };
  if (N.Opset >= 10) {
    for (auto [I, V] : {std::pair<unsigned, std::vector<int64_t> *>{1, &Starts},
                        {2, &Ends}, {3, &Axes}, {4, &Steps}})
      if (llvm::Error E = Read(I, *V))
        return E;
  } else {
    auto S = N.getInts("starts"), E = N.getInts("ends"), A = N.getInts("axes");
    Starts.assign(S.begin(), S.end());
    Ends.assign(E.begin(), E.end());
    Axes.assign(A.begin(), A.end());
  }
  if (Axes.empty())
    for (size_t I = 0; I != Starts.size(); ++I)
      Axes.push_back(I);
  if (Steps.empty())
    Steps.assign(Starts.size(), 1);
  if (Ends.size() != Starts.size() || Axes.size() != Starts.size() ||
      Steps.size() != Starts.size())
    return C.nodeError(N, "starts, ends, axes and steps differ in length");
  for (size_t I = 0; I != Starts.size(); ++I) {
    int64_t A = Axes[I] < 0 ? Axes[I] + static_cast<int64_t>(R) : Axes[I];
    if (A < 0 || A >= static_cast<int64_t>(R))
      return C.nodeError(N, "axis out of range");
    int64_t Dim = Shape[A], S = Starts[I], St = Steps[I];
    if (St == 0)
      return C.nodeError(N, "step 0");
    if (S < 0)
      S += Dim;
    S = St > 0 ? std::clamp<int64_t>(S, 0, Dim)
               : std::clamp<int64_t>(S, 0, std::max<int64_t>(Dim - 1, 0));
    Start[A] = S;
    Step[A] = St;
  }
  return llvm::Error::success();
}

} // namespace

//===--- Reshape, Flatten, Squeeze, Unsqueeze (views) ---------------------===//

llvm::Error gradlint::probe::reshapeForward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  if (onHostPath(C, N)) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto Out = std::make_shared<HostTensor>(**H);
    Out->Shape = C.outShape(N, 0);
    C.outHost(N, 0, Out);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  return C.out(N, 0, *X);
}

//===--- Transpose --------------------------------------------------------===//

namespace {
Dims permOf(const Node &N, size_t R) {
  llvm::ArrayRef<int64_t> P = N.getInts("perm");
  Dims Perm;
  for (size_t I = 0; I != R; ++I)
    Perm.push_back(P.empty() ? R - 1 - I : (P[I] < 0 ? P[I] + R : P[I]));
  return Perm;
}
} // namespace

llvm::Error gradlint::probe::transposeForward(OpContext &C, const Node &N,
                                              const OpRule &R) {
  const Dims &In = C.inShape(N, 0);
  Dims Perm = permOf(N, In.size());
  Dims S = denseStrides(In);
  CopyPlan P;
  P.Shape = C.outShape(N, 0);
  for (int64_t A : Perm)
    P.Src.push_back(S[A]);
  P.Dst = denseStrides(P.Shape);
  if (onHostPath(C, N)) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto Out = hostOut(C, N, 0);
    if (llvm::Error E = move(C, P, H->get(), 0, Out.get(), 0))
      return E;
    C.outHost(N, 0, Out);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  if (llvm::Error E = moveDevice(C, P, X->ptr(), Y->ptr(), false))
    return E;
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::transposeBackward(OpContext &C, const Node &N,
                                               const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0))
    return llvm::Error::success();
  const Dims &In = C.inShape(N, 0);
  Dims Perm = permOf(N, In.size());
  Dims S = denseStrides(In);
  CopyPlan P;
  P.Shape = DY->Shape;
  P.Src = denseStrides(P.Shape);
  for (int64_t A : Perm)
    P.Dst.push_back(S[A]);
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  return moveDevice(C, P, DY->ptr(), T->T.ptr(), T->Acc);
}

//===--- Slice ------------------------------------------------------------===//

llvm::Error gradlint::probe::sliceForward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  const Dims &In = C.inShape(N, 0);
  Dims Start, Step;
  if (llvm::Error E = sliceParams(C, N, In, Start, Step))
    return E;
  Dims S = denseStrides(In);
  CopyPlan P;
  P.Shape = C.outShape(N, 0);
  int64_t Off = 0;
  for (size_t I = 0; I != In.size(); ++I) {
    P.Src.push_back(Step[I] * S[I]);
    Off += Start[I] * S[I];
  }
  P.Dst = denseStrides(P.Shape);
  if (onHostPath(C, N)) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto Out = hostOut(C, N, 0);
    if (product(P.Shape))
      if (llvm::Error E = move(C, P, H->get(), Off, Out.get(), 0))
        return E;
    C.outHost(N, 0, Out);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  if (product(P.Shape))
    if (llvm::Error E = moveDevice(C, P, X->ptr() + Off, Y->ptr(), false))
      return E;
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::sliceBackward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0) || !DY->size())
    return llvm::Error::success();
  const Dims &In = C.inShape(N, 0);
  Dims Start, Step;
  if (llvm::Error E = sliceParams(C, N, In, Start, Step))
    return E;
  Dims S = denseStrides(In);
  CopyPlan P;
  P.Shape = DY->Shape;
  P.Src = denseStrides(P.Shape);
  int64_t Off = 0;
  for (size_t I = 0; I != In.size(); ++I) {
    P.Dst.push_back(Step[I] * S[I]);
    Off += Start[I] * S[I];
  }
  auto T = C.gradIn(N, 0, /*Zeroed=*/true);
  if (!T)
    return T.takeError();
  return moveDevice(C, P, DY->ptr(), T->T.ptr() + Off, true);
}

//===--- Concat and Split -------------------------------------------------===//

namespace {
int64_t axisOf(const Node &N, size_t Rank, int64_t Default) {
  int64_t A = N.getInt("axis", Default);
  return A < 0 ? A + static_cast<int64_t>(Rank) : A;
}

/// Copy of a block Part (a slice along Axis) of a dense Whole at Offset.
CopyPlan blockPlan(llvm::ArrayRef<int64_t> Part, llvm::ArrayRef<int64_t> Whole,
                   bool IntoWhole) {
  CopyPlan P;
  P.Shape.assign(Part.begin(), Part.end());
  Dims PS = denseStrides(Part), WS = denseStrides(Whole);
  P.Src = IntoWhole ? PS : WS;
  P.Dst = IntoWhole ? WS : PS;
  return P;
}
} // namespace

llvm::Error gradlint::probe::concatForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Dims &Out = C.outShape(N, 0);
  int64_t Axis = axisOf(N, Out.size(), 0);
  Dims WS = denseStrides(Out);
  bool Host = onHostPath(C, N);
  std::shared_ptr<HostTensor> HOut = Host ? hostOut(C, N, 0) : nullptr;
  Tensor Y;
  if (!Host) {
    auto T = C.allocOut(N, 0);
    if (!T)
      return T.takeError();
    Y = *T;
  }
  int64_t At = 0;
  for (unsigned I = 0; I != N.Inputs.size(); ++I) {
    if (!C.has(N, I))
      continue;
    const Dims &Part = C.inShape(N, I);
    CopyPlan P = blockPlan(Part, Out, true);
    int64_t Off = At * WS[Axis];
    At += Part[Axis];
    if (!product(Part))
      continue;
    if (Host) {
      auto H = C.hostIn(N, I);
      if (!H)
        return H.takeError();
      if (llvm::Error E = move(C, P, H->get(), 0, HOut.get(), Off))
        return E;
      continue;
    }
    auto X = C.in(N, I);
    if (!X)
      return X.takeError();
    if (llvm::Error E = moveDevice(C, P, X->ptr(), Y.ptr() + Off, false))
      return E;
  }
  if (Host) {
    C.outHost(N, 0, HOut);
    return llvm::Error::success();
  }
  return C.out(N, 0, Y);
}

llvm::Error gradlint::probe::concatBackward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  int64_t Axis = axisOf(N, DY->Shape.size(), 0);
  Dims WS = denseStrides(DY->Shape);
  int64_t At = 0;
  for (unsigned I = 0; I != N.Inputs.size(); ++I) {
    if (!C.has(N, I))
      continue;
    const Dims &Part = C.inShape(N, I);
    int64_t Off = At * WS[Axis];
    At += Part[Axis];
    if (!C.needsGrad(N, I) || !product(Part))
      continue;
    auto T = C.gradIn(N, I);
    if (!T)
      return T.takeError();
    if (llvm::Error E = moveDevice(C, blockPlan(Part, DY->Shape, false),
                                   DY->ptr() + Off, T->T.ptr(), T->Acc))
      return E;
  }
  return llvm::Error::success();
}

llvm::Error gradlint::probe::splitForward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  const Dims &In = C.inShape(N, 0);
  int64_t Axis = axisOf(N, In.size(), 0);
  Dims WS = denseStrides(In);
  bool Host = onHostPath(C, N);
  HostPtr HIn;
  Tensor X;
  if (Host) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    HIn = *H;
  } else {
    auto T = C.in(N, 0);
    if (!T)
      return T.takeError();
    X = *T;
  }
  int64_t At = 0;
  for (unsigned I = 0; I != N.Outputs.size(); ++I) {
    if (N.Outputs[I] == NoId)
      continue;
    const Dims &Part = C.outShape(N, I);
    CopyPlan P = blockPlan(Part, In, false);
    int64_t Off = At * WS[Axis];
    At += Part[Axis];
    if (Host) {
      auto Out = hostOut(C, N, I);
      if (product(Part))
        if (llvm::Error E = move(C, P, HIn.get(), Off, Out.get(), 0))
          return E;
      C.outHost(N, I, Out);
      continue;
    }
    auto Y = C.allocOut(N, I);
    if (!Y)
      return Y.takeError();
    if (product(Part))
      if (llvm::Error E = moveDevice(C, P, X.ptr() + Off, Y->ptr(), false))
        return E;
    if (llvm::Error E = C.out(N, I, *Y))
      return E;
  }
  return llvm::Error::success();
}

llvm::Error gradlint::probe::splitBackward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  if (!C.needsGrad(N, 0))
    return llvm::Error::success();
  const Dims &In = C.inShape(N, 0);
  int64_t Axis = axisOf(N, In.size(), 0);
  Dims WS = denseStrides(In);
  bool All = true;
  for (unsigned I = 0; I != N.Outputs.size(); ++I)
    All &= C.gradOut(N, I) != nullptr;
  auto T = C.gradIn(N, 0, /*Zeroed=*/!All);
  if (!T)
    return T.takeError();
  int64_t At = 0;
  for (unsigned I = 0; I != N.Outputs.size(); ++I) {
    if (N.Outputs[I] == NoId)
      continue;
    const Dims &Part = C.outShape(N, I);
    int64_t Off = At * WS[Axis];
    At += Part[Axis];
    const Tensor *DY = C.gradOut(N, I);
    if (!DY || !product(Part))
      continue;
    if (llvm::Error E = moveDevice(C, blockPlan(Part, In, true), DY->ptr(),
                                   T->T.ptr() + Off, T->Acc))
      return E;
  }
  return llvm::Error::success();
}

//===--- Expand -----------------------------------------------------------===//

llvm::Error gradlint::probe::expandForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Dims &Out = C.outShape(N, 0);
  auto D = broadcastDesc(Out, {C.inShape(N, 0)});
  if (!D)
    return C.nodeError(N, llvm::toString(D.takeError()));
  CopyPlan P;
  P.Shape.assign(D->Shape, D->Shape + D->Rank);
  P.Src.assign(D->Stride[0], D->Stride[0] + D->Rank);
  P.Dst = denseStrides(P.Shape);
  if (onHostPath(C, N)) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto HOut = hostOut(C, N, 0);
    if (product(Out))
      if (llvm::Error E = move(C, P, H->get(), 0, HOut.get(), 0))
        return E;
    C.outHost(N, 0, HOut);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  if (X->size() == product(Out))
    return C.out(N, 0, *X);
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  if (product(Out))
    if (llvm::Error E = moveDevice(C, P, X->ptr(), Y->ptr(), false))
      return E;
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::expandBackward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  return C.reduceGradInto(N, 0, *DY);
}

//===--- Trilu ------------------------------------------------------------===//

namespace {
llvm::Expected<TriluDesc> triluDesc(OpContext &C, const Node &N,
                                    llvm::ArrayRef<int64_t> Shape) {
  if (Shape.size() < 2)
    return C.nodeError(N, "Trilu needs rank >= 2");
  TriluDesc D;
  D.Upper = N.getInt("upper", 1);
  D.Rows = Shape[Shape.size() - 2];
  D.Cols = Shape.back();
  D.Batch = product(Shape.drop_back(2));
  auto K = C.hostIn(N, 1);
  if (!K)
    return K.takeError();
  if (*K)
    D.K = (*K)->integer(0);
  return D;
}
} // namespace

llvm::Error gradlint::probe::triluForward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  auto D = triluDesc(C, N, C.inShape(N, 0));
  if (!D)
    return D.takeError();
  if (onHostPath(C, N)) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto Out = std::make_shared<HostTensor>(**H);
    for (int64_t B = 0; B < D->Batch; ++B)
      for (int64_t I = 0; I < D->Rows; ++I)
        for (int64_t J = 0; J < D->Cols; ++J) {
          bool Keep = D->Upper ? J - I >= D->K : J - I <= D->K;
          size_t At = (B * D->Rows + I) * D->Cols + J;
          if (Keep)
            continue;
          if (Out->isInteger())
            Out->Ints[At] = 0;
          else
            Out->Reals[At] = 0;
        }
    C.outHost(N, 0, Out);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  C.B.trilu(*D, X->ptr(), Y->ptr(), false);
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::triluBackward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0))
    return llvm::Error::success();
  auto D = triluDesc(C, N, DY->Shape);
  if (!D)
    return D.takeError();
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  C.B.trilu(*D, DY->ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}
