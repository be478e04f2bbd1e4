//===- Layout.h - shapes to kernel descriptors (private) --------*- C++ -*-===//
#ifndef GRADLINT_LIB_PROBE_OPS_LAYOUT_H
#define GRADLINT_LIB_PROBE_OPS_LAYOUT_H

#include "gradlint/IR/Tensor.h"
#include "gradlint/Probe/Backend.h"
#include "gradlint/Shape/ShapeInference.h"
#include "llvm/Support/Error.h"
#include <vector>

namespace gradlint::probe {

/// Row-major strides of a dense tensor.
Dims denseStrides(llvm::ArrayRef<int64_t> Shape);
int64_t product(llvm::ArrayRef<int64_t> Shape);

/// Broadcasts operand shapes (numpy rule, right-aligned) to Out, merging
/// dimensions that are contiguous for every operand.
llvm::Expected<BroadcastDesc> broadcastDesc(llvm::ArrayRef<int64_t> Out,
                                            llvm::ArrayRef<Dims> Operands);

/// Sums a dense tensor of shape Full down to Small (right-aligned; the
/// dimensions Small broadcasts along are reduced).
llvm::Expected<ReduceDesc> sumToDesc(llvm::ArrayRef<int64_t> Full,
                                     llvm::ArrayRef<int64_t> Small);

/// A strided copy of any rank, merged down to MaxKernelRank.
struct CopyPlan {
  Dims Shape, Src, Dst;
  float Alpha = 1;
  llvm::Expected<CopyDesc> build() const;
};

/// A dense copy of N elements.
CopyDesc denseCopy(int64_t N, float Alpha = 1);

/// Runs a CopyDesc on host arrays (integer values in the movement rules).
template <typename T>
void hostCopy(const CopyDesc &D, const T *Src, T *Dst) {
  int64_t N = D.numElements();
  int64_t Idx[MaxKernelRank] = {};
  int64_t SO = 0, DO = 0;
  for (int64_t K = 0; K < N; ++K) {
    Dst[DO] = Src[SO];
    for (int I = static_cast<int>(D.Rank) - 1; I >= 0; --I) {
      SO += D.SrcStride[I];
      DO += D.DstStride[I];
      if (++Idx[I] < D.Shape[I])
        break;
      SO -= Idx[I] * D.SrcStride[I];
      DO -= Idx[I] * D.DstStride[I];
      Idx[I] = 0;
    }
  }
}

} // namespace gradlint::probe

#endif
