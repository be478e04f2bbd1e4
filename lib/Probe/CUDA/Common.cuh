//===- Common.cuh - launch, indexing and reduction helpers ------*- CUDA -*-===//
//
// Shared by the kernel files: checked launches, grid-stride loops, strided
// index decoding, and block reductions in double with a fixed tree, so a sum
// depends only on the launch shape (which depends only on the problem size,
// never on the device or on timing).
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_PROBE_CUDA_COMMON_CUH
#define GRADLINT_LIB_PROBE_CUDA_COMMON_CUH

#include "CUDABackend.h"
#include <cuda_runtime.h>
#include <climits>
#include <cstdint>
#include <string>

namespace gradlint::probe::cuda {

/// Launches K<<<Grid, Block, Shm>>> on the backend's stream and records a
/// launch failure; nothing runs after an earlier failure or for an empty grid.
template <typename... KArgs, typename... Args>
void launch(CUDABackend &B, const char *Name, void (*K)(KArgs...), dim3 Grid,
            dim3 Block, size_t Shm, Args... A) {
  if (!B.ok() || Grid.x == 0 || Grid.y == 0 || Grid.z == 0)
    return;
  K<<<Grid, Block, Shm, B.stream()>>>(static_cast<KArgs>(A)...);
  B.check(cudaGetLastError(), Name);
}

/// Blocks for a grid-stride loop over N items (capped; loops cover the rest).
inline unsigned gridFor(int64_t N, int Threads = BlockThreads) {
  int64_t G = (N + Threads - 1) / Threads;
  return static_cast<unsigned>(G < 1 ? 0 : G > 65535 * 8 ? 65535 * 8 : G);
}

#define GL_GRID_LOOP(I, N)                                                     \
  for (int64_t I = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; I < (N);    \
       I += int64_t(gridDim.x) * blockDim.x)

__device__ inline void store(float *D, float V, bool Acc) {
  *D = Acc ? *D + V : V;
}

/// Up to K operands strided over one index space (dense row-major order of
/// Shape); coalesce() merges dimensions that are contiguous for every
/// operand, so most descriptors become rank 1 or 2.
template <unsigned K> struct Strided {
  int Rank = 0;
  int64_t Shape[MaxKernelRank] = {};
  int64_t Stride[K][MaxKernelRank] = {};

  void coalesce() {
    Strided Out;
    for (int D = 0; D < Rank; ++D) {
      if (Shape[D] == 1)
        continue;
      int R = Out.Rank;
      bool Merge = R > 0;
      for (unsigned Op = 0; Op < K && Merge; ++Op)
        Merge = Out.Stride[Op][R - 1] == Stride[Op][D] * Shape[D];
      if (Merge) {
        Out.Shape[R - 1] *= Shape[D];
        for (unsigned Op = 0; Op < K; ++Op)
          Out.Stride[Op][R - 1] = Stride[Op][D];
        continue;
      }
      Out.Shape[R] = Shape[D];
      for (unsigned Op = 0; Op < K; ++Op)
        Out.Stride[Op][R] = Stride[Op][D];
      ++Out.Rank;
    }
    *this = Out;
  }

  int64_t count() const {
    int64_t N = 1;
    for (int D = 0; D < Rank; ++D)
      N *= Shape[D];
    return N;
  }

  /// Operand offsets of element I (row-major over Shape).
  template <typename Index>
  __device__ void offsets(Index I, int64_t (&Off)[K]) const {
    for (unsigned Op = 0; Op < K; ++Op)
      Off[Op] = 0;
    for (int D = Rank - 1; D >= 0; --D) {
      Index S = static_cast<Index>(Shape[D]);
      Index X = I % S;
      I /= S;
      for (unsigned Op = 0; Op < K; ++Op)
        Off[Op] += static_cast<int64_t>(X) * Stride[Op][D];
    }
  }
};

/// Sum over a warp with a fixed tree; lane 0 holds the result.
__device__ inline double warpSum(double V) {
  for (int O = 16; O > 0; O >>= 1)
    V += __shfl_down_sync(0xffffffffu, V, O);
  return V;
}

__device__ inline float warpMax(float V) {
  for (int O = 16; O > 0; O >>= 1)
    V = fmaxf(V, __shfl_down_sync(0xffffffffu, V, O));
  return V;
}

/// Sum over a block of BlockThreads threads, returned to every thread.
/// Shm holds BlockThreads / 32 doubles.
__device__ inline double blockSum(double V, double *Shm) {
  int Lane = threadIdx.x & 31, Warp = threadIdx.x >> 5;
  V = warpSum(V);
  if (Lane == 0)
    Shm[Warp] = V;
  __syncthreads();
  if (Warp == 0) {
    V = Lane < BlockThreads / 32 ? Shm[Lane] : 0.0;
    V = warpSum(V);
    if (Lane == 0)
      Shm[0] = V;
  }
  __syncthreads();
  double R = Shm[0];
  __syncthreads();
  return R;
}

/// Max over a block, as blockSum (fmax, so the order cannot matter).
__device__ inline float blockMax(float V, float *Shm) {
  int Lane = threadIdx.x & 31, Warp = threadIdx.x >> 5;
  V = warpMax(V);
  if (Lane == 0)
    Shm[Warp] = V;
  __syncthreads();
  if (Warp == 0) {
    V = Lane < BlockThreads / 32 ? Shm[Lane] : -INFINITY;
    V = warpMax(V);
    if (Lane == 0)
      Shm[0] = V;
  }
  __syncthreads();
  float R = Shm[0];
  __syncthreads();
  return R;
}

/// Scalar results (sumSquares, dot, the optimizer updates' norms) take one
/// launch: each block of BlockThreads threads sums a fixed chunk of
/// ScalarChunk elements in a fixed tree and stores its partial; the last
/// block to finish (an integer counter) adds the partials in block order and
/// writes the total into the backend's pinned result slot. The order of
/// additions depends only on N, so results are deterministic.
constexpr int64_t ScalarChunk = 8192;

/// Where the blocks of a scalar reduction meet.
struct ScalarSink {
  double *Parts;   ///< one per block
  unsigned *Done;  ///< blocks finished; reset to 0 by the last one
  double *Out;     ///< pinned host memory
};

/// Ends a scalar reduction kernel: every thread calls it with its sum.
__device__ inline void finishScalar(double S, ScalarSink K) {
  __shared__ double Shm[BlockThreads / 32];
  __shared__ bool Last;
  S = blockSum(S, Shm);
  if (threadIdx.x == 0) {
    K.Parts[blockIdx.x] = S;
    __threadfence();
    Last = atomicAdd(K.Done, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!Last)
    return;
  __threadfence();
  double T = 0;
  for (unsigned I = threadIdx.x; I < gridDim.x; I += BlockThreads)
    T += static_cast<volatile double *>(K.Parts)[I];
  T = blockSum(T, Shm);
  if (threadIdx.x == 0) {
    *K.Out = T;
    *K.Done = 0;
  }
}

/// Runs one scalar reduction over N elements: Launch(Grid, Sink) launches
/// the kernel (which ends in finishScalar); waits and returns the total.
template <typename LaunchFn>
double scalarReduce(CUDABackend &B, int64_t N, LaunchFn &&Launch) {
  int64_t Blocks = (N + ScalarChunk - 1) / ScalarChunk;
  if (Blocks < 1)
    Blocks = 1; // one block writes the empty sum
  if (Blocks > INT32_MAX) {
    B.fail("a reduction over " + std::to_string(N) + " elements is too large");
    B.waitOrDie();
  }
  ScalarSink K{B.scalarParts(Blocks), B.scalarCounter(), B.resultSlots()};
  if (K.Parts)
    Launch(dim3(static_cast<unsigned>(Blocks)), K);
  B.waitOrDie();
  return *K.Out;
}

} // namespace gradlint::probe::cuda

#endif
