//===- Movement.cu - strided copies and triangles, forward and gradient ---===//
//
// One strided copy serves Transpose, Slice, Concat, Split and Expand and the
// gradients of all of them (with Acc, and Alpha for Sub's negation), as on
// the CPU. Dimensions contiguous in both operands are merged first, so dense
// copies and most slices run as rank-1 or rank-2 loops.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

template <typename Index>
__global__ void copyKernel(Strided<2> S, int64_t N, const float *Src,
                           float *Dst, float Alpha, bool Acc) {
  GL_GRID_LOOP(I, N) {
    int64_t Off[2];
    S.offsets(static_cast<Index>(I), Off);
    store(Dst + Off[1], Alpha * Src[Off[0]], Acc);
  }
}

__global__ void triluKernel(TriluDesc D, const float *X, float *Y, bool Acc) {
  GL_GRID_LOOP(E, D.Batch * D.Rows * D.Cols) {
    int64_t J = E % D.Cols, I = E / D.Cols % D.Rows;
    bool Keep = D.Upper ? J - I >= D.K : J - I <= D.K;
    store(Y + E, Keep ? X[E] : 0.0f, Acc);
  }
}

} // namespace

void CUDABackend::copy(const CopyDesc &D, FPtr Src, FPtr Dst, bool Acc) {
  Strided<2> S;
  S.Rank = static_cast<int>(D.Rank);
  for (unsigned I = 0; I != D.Rank; ++I) {
    S.Shape[I] = D.Shape[I];
    S.Stride[0][I] = D.SrcStride[I];
    S.Stride[1][I] = D.DstStride[I];
  }
  S.coalesce();
  int64_t N = S.count();
  if (N < (int64_t(1) << 31))
    launch(*this, "copy", copyKernel<uint32_t>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, S, N, at(Src), at(Dst), D.Alpha, Acc);
  else
    launch(*this, "copy", copyKernel<int64_t>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, S, N, at(Src), at(Dst), D.Alpha, Acc);
}

void CUDABackend::trilu(const TriluDesc &D, FPtr X, FPtr Y, bool Acc) {
  launch(*this, "trilu", triluKernel,
         dim3(gridFor(D.Batch * D.Rows * D.Cols)), dim3(BlockThreads), 0, D,
         at(X), at(Y), Acc);
}
