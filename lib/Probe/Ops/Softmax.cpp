//===- Softmax.cpp - Softmax and LogSoftmax: lowering and gradient --------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {
/// Opset 13 normalizes along one axis; earlier opsets flatten the input to
/// 2-D at the axis and normalize each row.
llvm::Expected<SoftmaxDesc> softmaxDesc(OpContext &C, const Node &N,
                                        llvm::ArrayRef<int64_t> Shape) {
  int64_t R = Shape.size();
  int64_t Axis = N.getInt("axis", N.Opset >= 13 ? -1 : 1);
  if (Axis < 0)
    Axis += R;
  if (Axis < 0 || (R > 0 && Axis >= R) || (R == 0 && Axis != 0))
    return C.nodeError(N, "axis out of range");
  SoftmaxDesc D;
  D.Log = N.Kind == OpKind::LogSoftmax;
  D.Outer = product(Shape.take_front(Axis));
  if (N.Opset >= 13) {
    D.Axis = R ? Shape[Axis] : 1;
    D.Inner = R ? product(Shape.drop_front(Axis + 1)) : 1;
  } else {
    D.Axis = product(Shape.drop_front(Axis));
  }
  return D;
}
} // namespace

llvm::Error gradlint::probe::softmaxForward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  auto X = C.in(N, 0);
  if (!X)
    return X.takeError();
  auto D = softmaxDesc(C, N, X->Shape);
  if (!D)
    return D.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  C.B.softmax(*D, X->ptr(), Y->ptr());
  if (C.backwardNeeded(N))
    C.save(N, *Y);
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::softmaxBackward(OpContext &C, const Node &N,
                                             const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  const Tensor &Y = C.saved(N, 0);
  auto D = softmaxDesc(C, N, Y.Shape);
  if (!D)
    return D.takeError();
  auto T = C.gradIn(N, 0);
  if (!T)
    return T.takeError();
  C.B.softmaxGrad(*D, Y.ptr(), DY->ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}
