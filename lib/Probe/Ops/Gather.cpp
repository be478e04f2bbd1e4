//===- Gather.cpp - Gather and GatherElements: lowering and gradient ------===//
//
// Indices are integer host values: negative ones are wrapped and all are
// checked against the axis before they go to the device.
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {

llvm::Expected<std::vector<int64_t>> indicesIn(OpContext &C, const Node &N,
                                               int64_t Bound) {
  auto H = C.hostIn(N, 1);
  if (!H)
    return H.takeError();
  if (!*H || !(*H)->isInteger())
    return C.nodeError(N, "indices must be integers");
  std::vector<int64_t> Idx((*H)->Ints);
  for (int64_t &I : Idx) {
    if (I < 0)
      I += Bound;
    if (I < 0 || I >= Bound)
      return C.nodeError(N, "index out of range [0, " + llvm::Twine(Bound) + ")");
  }
  return Idx;
}

llvm::Expected<GatherDesc> gatherDesc(OpContext &C, const Node &N,
                                      llvm::ArrayRef<int64_t> Shape,
                                      int64_t Count) {
  int64_t R = Shape.size(), Axis = N.getInt("axis", 0);
  if (Axis < 0)
    Axis += R;
  if (Axis < 0 || Axis >= R)
    return C.nodeError(N, "axis out of range");
  GatherDesc D;
  D.Outer = product(Shape.take_front(Axis));
  D.AxisSize = Shape[Axis];
  D.Inner = product(Shape.drop_front(Axis + 1));
  D.Count = Count;
  return D;
}

} // namespace

llvm::Error gradlint::probe::gatherForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  const Dims &Shape = C.inShape(N, 0);
  auto Probe = gatherDesc(C, N, Shape, 0);
  if (!Probe)
    return Probe.takeError();
  auto Idx = indicesIn(C, N, Probe->AxisSize);
  if (!Idx)
    return Idx.takeError();
  GatherDesc D = *Probe;
  D.Count = Idx->size();
  if (!C.isFloat(N.Outputs[0])) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto Out = std::make_shared<HostTensor>();
    Out->Type = (*H)->Type;
    Out->Shape = C.outShape(N, 0);
    for (int64_t O = 0; O < D.Outer; ++O)
      for (int64_t K = 0; K < D.Count; ++K)
        for (int64_t I = 0; I < D.Inner; ++I)
          Out->Ints.push_back(
              (*H)->integer((O * D.AxisSize + (*Idx)[K]) * D.Inner + I));
    C.outHost(N, 0, Out);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto I = C.uploadInts(*Idx);
  if (!I)
    return I.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  C.B.gather(D, X->ptr(), I->ints(), Y->ptr());
  if (C.backwardNeeded(N))
    C.save(N, *I);
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::gatherBackward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0))
    return llvm::Error::success();
  const DeviceArray &I = C.savedArray(N, 0);
  auto D = gatherDesc(C, N, C.inShape(N, 0), I.Size);
  if (!D)
    return D.takeError();
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  C.B.gatherGrad(*D, I.ints(), DY->ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}

namespace {
/// Source offset of every output element of GatherElements.
llvm::Expected<std::vector<int64_t>> elementOffsets(OpContext &C, const Node &N) {
  const Dims &Data = C.inShape(N, 0);
  int64_t R = Data.size(), Axis = N.getInt("axis", 0);
  if (Axis < 0)
    Axis += R;
  if (Axis < 0 || Axis >= R)
    return C.nodeError(N, "axis out of range");
  auto Idx = indicesIn(C, N, Data[Axis]);
  if (!Idx)
    return Idx.takeError();
  const Dims &IS = C.inShape(N, 1);
  Dims DS = denseStrides(Data);
  std::vector<int64_t> Off(Idx->size());
  Dims At(R, 0);
  for (size_t K = 0; K != Idx->size(); ++K) {
    int64_t O = 0;
    for (int64_t D = 0; D < R; ++D)
      O += (D == Axis ? (*Idx)[K] : At[D]) * DS[D];
    Off[K] = O;
    for (int64_t D = R - 1; D >= 0; --D) {
      if (++At[D] < IS[D])
        break;
      At[D] = 0;
    }
  }
  return Off;
}
} // namespace

llvm::Error gradlint::probe::gatherElementsForward(OpContext &C, const Node &N,
                                                   const OpRule &R) {
  auto Off = elementOffsets(C, N);
  if (!Off)
    return Off.takeError();
  if (!C.isFloat(N.Outputs[0])) {
    auto H = C.hostIn(N, 0);
    if (!H)
      return H.takeError();
    auto Out = std::make_shared<HostTensor>();
    Out->Type = (*H)->Type;
    Out->Shape = C.outShape(N, 0);
    for (int64_t O : *Off)
      Out->Ints.push_back((*H)->integer(O));
    C.outHost(N, 0, Out);
    return llvm::Error::success();
  }
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto I = C.uploadInts(*Off);
  if (!I)
    return I.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  C.B.gatherFlat(X->ptr(), I->ints(), Y->ptr(), Off->size());
  if (C.backwardNeeded(N))
    C.save(N, *I);
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::gatherElementsBackward(OpContext &C, const Node &N,
                                                    const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY || !C.needsGrad(N, 0))
    return llvm::Error::success();
  const DeviceArray &I = C.savedArray(N, 0);
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  C.B.gatherFlatGrad(I.ints(), DY->ptr(), T->T.ptr(), I.Size, T->T.size(),
                     T->Acc);
  return llvm::Error::success();
}
