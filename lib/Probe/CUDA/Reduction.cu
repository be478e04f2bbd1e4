//===- Reduction.cu - sums and maxima over axes, forward and gradient -----===//
//
// Sums accumulate in double in an order fixed by the problem size alone:
//  - the reduced elements innermost (rows): a team (warp, or block for long
//    groups) per output element, lanes striding over the group, a fixed tree;
//  - a kept dimension innermost (columns, e.g. bias gradients): one thread
//    per output element and per chunk of ColumnChunk reduced indices, taken
//    in order, and the chunks added in order by a second kernel.
// Maxima use fmax, whose result does not depend on the order.
// sumSquares, dot and the optimizer updates (Loss.cu) are scalar reductions:
// per-chunk partials in a fixed tree, added in order (Common.cuh).
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

constexpr int64_t ColumnChunk = 64;
constexpr int64_t RowChunk = 32768;
constexpr int WarpsPerBlock = BlockThreads / 32;

/// A ReduceDesc with size-1 dimensions dropped and neighbours of the same
/// kind merged (as CPU/Reduction.cpp), split into the kept and the reduced
/// dimensions, each with its strides in the dense input.
struct Plan {
  struct Dims {
    int Rank = 0;
    int64_t Shape[MaxKernelRank] = {};
    int64_t Stride[MaxKernelRank] = {};
    /// Input offset of the I-th element of this index space.
    __device__ int64_t offset(int64_t I) const {
      int64_t Off = 0;
      for (int D = Rank - 1; D >= 0; --D) {
        Off += I % Shape[D] * Stride[D];
        I /= Shape[D];
      }
      return Off;
    }
  };
  Dims Kept, Red;
  int64_t KeptCount = 1, Count = 1;
  bool InnerReduced = false; ///< the innermost dimension is reduced
  /// All dimensions, for mapping an input element to its output element.
  Dims All;
  bool AllReduced[MaxKernelRank] = {};

  explicit Plan(const ReduceDesc &D) {
    int Rank = 0;
    int64_t Shape[MaxKernelRank];
    bool Reduced[MaxKernelRank];
    for (unsigned I = 0; I != D.Rank; ++I) {
      if (D.Shape[I] == 1)
        continue;
      if (Rank && Reduced[Rank - 1] == D.Reduced[I]) {
        Shape[Rank - 1] *= D.Shape[I];
        continue;
      }
      Shape[Rank] = D.Shape[I];
      Reduced[Rank] = D.Reduced[I];
      ++Rank;
    }
    int64_t S = 1;
    int64_t Stride[MaxKernelRank];
    for (int I = Rank - 1; I >= 0; --I) {
      Stride[I] = S;
      S *= Shape[I];
    }
    All.Rank = Rank;
    for (int I = 0; I < Rank; ++I) {
      Dims &T = Reduced[I] ? Red : Kept;
      T.Shape[T.Rank] = Shape[I];
      T.Stride[T.Rank] = Stride[I];
      ++T.Rank;
      (Reduced[I] ? Count : KeptCount) *= Shape[I];
      All.Shape[I] = Shape[I];
      All.Stride[I] = Stride[I];
      AllReduced[I] = Reduced[I];
    }
    for (unsigned I = 0; I != D.Rank; ++I)
      if (D.Shape[I] == 0)
        (D.Reduced[I] ? Count : KeptCount) = 0;
    InnerReduced = Rank && Reduced[Rank - 1];
  }
};

__device__ double combine(bool Max, double S, double X) {
  return Max ? fmax(S, X) : S + X;
}

/// Combines S over a team (a warp, or a block of BlockThreads) with a fixed
/// tree; the team's first lane gets the result.
template <int TeamSize>
__device__ double teamReduce(double S, bool Max, double *Shm) {
  for (int O = 16; O > 0; O >>= 1)
    S = combine(Max, S, __shfl_down_sync(0xffffffffu, S, O));
  if (TeamSize == 32)
    return S;
  int Lane = threadIdx.x & 31, W = threadIdx.x >> 5;
  if (Lane == 0)
    Shm[W] = S;
  __syncthreads();
  if (W == 0) {
    S = Lane < WarpsPerBlock ? Shm[Lane] : (Max ? -INFINITY : 0.0);
    for (int O = 16; O > 0; O >>= 1)
      S = combine(Max, S, __shfl_down_sync(0xffffffffu, S, O));
  }
  return S;
}

/// Rows: a team of TeamSize lanes per output element and chunk of RowChunk
/// reduced indices. With one chunk the team stores the result; otherwise it
/// writes a partial ([chunk][output]) for reduceColumnSum.
template <int TeamSize>
__global__ void reduceRows(Plan P, bool Max, float Scale, const float *X,
                           float *Y, bool Acc, double *Part) {
  __shared__ double Shm[BlockThreads / 32];
  int64_t K;
  int Lane;
  if (TeamSize == 32) {
    K = blockIdx.x * int64_t(WarpsPerBlock) + threadIdx.x / 32;
    Lane = threadIdx.x & 31;
    if (K >= P.KeptCount) // whole warps: every lane agrees
      return;
  } else {
    K = blockIdx.x;
    Lane = threadIdx.x;
  }
  int64_t Chunk = blockIdx.y;
  int64_t Begin = Chunk * RowChunk, End = min(P.Count, Begin + RowChunk);
  const float *Base = X + P.Kept.offset(K);
  double S = Max ? -INFINITY : 0.0;
  for (int64_t J = Begin + Lane; J < End; J += TeamSize)
    S = combine(Max, S, Base[P.Red.offset(J)]);
  S = teamReduce<TeamSize>(S, Max, Shm);
  if (Lane != 0)
    return;
  if (Part)
    Part[Chunk * P.KeptCount + K] = S;
  else
    store(Y + K, static_cast<float>(Max ? S : S * Scale), Acc);
}

/// Columns: per output element and chunk of ColumnChunk reduced indices.
__global__ void reduceColumnParts(Plan P, bool Max, const float *X,
                                  double *Part) {
  int64_t Chunks = (P.Count + ColumnChunk - 1) / ColumnChunk;
  GL_GRID_LOOP(I, P.KeptCount * Chunks) {
    int64_t Chunk = I / P.KeptCount, K = I % P.KeptCount;
    const float *Base = X + P.Kept.offset(K);
    int64_t End = min(P.Count, (Chunk + 1) * ColumnChunk);
    double S = Max ? -INFINITY : 0.0;
    for (int64_t J = Chunk * ColumnChunk; J < End; ++J)
      S = combine(Max, S, Base[P.Red.offset(J)]);
    Part[I] = S;
  }
}

/// Adds the partials of each output element in chunk order.
__global__ void reduceColumnSum(Plan P, int64_t Chunks, bool Max, float Scale,
                                const double *Part, float *Y, bool Acc) {
  GL_GRID_LOOP(K, P.KeptCount) {
    double S = Max ? -INFINITY : 0.0;
    for (int64_t C = 0; C < Chunks; ++C)
      S = combine(Max, S, Part[C * P.KeptCount + K]);
    store(Y + K, static_cast<float>(Max ? S : S * Scale), Acc);
  }
}

__global__ void storeConstant(float *Y, int64_t N, float V, bool Acc) {
  GL_GRID_LOOP(I, N) store(Y + I, V, Acc);
}

/// Max's gradient, step 1: dy shared among the ties of each group.
__global__ void maxShares(Plan P, const float *X, const float *Y,
                          const float *DY, float *Share) {
  GL_GRID_LOOP(K, P.KeptCount) {
    const float *Base = X + P.Kept.offset(K);
    int64_t Ties = 0;
    for (int64_t J = 0; J < P.Count; ++J)
      Ties += Base[P.Red.offset(J)] == Y[K];
    Share[K] = Ties ? DY[K] / static_cast<float>(Ties) : 0.0f;
  }
}

/// Step 2: every input element gets its group's share if it is a maximum.
__global__ void maxScatter(Plan P, const float *X, const float *Y,
                           const float *Share, float *DX, bool Acc) {
  GL_GRID_LOOP(I, P.KeptCount * P.Count) {
    int64_t K = 0, Rest = I, Mul = 1;
    for (int D = P.All.Rank - 1; D >= 0; --D) {
      int64_t Idx = Rest % P.All.Shape[D];
      Rest /= P.All.Shape[D];
      if (!P.AllReduced[D]) {
        K += Idx * Mul;
        Mul *= P.All.Shape[D];
      }
    }
    store(DX + I, X[I] == Y[K] ? Share[K] : 0.0f, Acc);
  }
}

__global__ void sumSquaresKernel(const float *X, int64_t N, int64_t Cols,
                                 int64_t Ld, ScalarSink K) {
  int64_t Begin = blockIdx.x * ScalarChunk;
  int64_t End = min(N, Begin + ScalarChunk);
  double S = 0;
  for (int64_t I = Begin + threadIdx.x; I < End; I += BlockThreads) {
    float V = Cols == Ld ? X[I] : X[I / Cols * Ld + I % Cols];
    S += static_cast<double>(V) * V;
  }
  finishScalar(S, K);
}

__global__ void dotKernel(const float *A, const float *B, int64_t N,
                          ScalarSink K) {
  int64_t Begin = blockIdx.x * ScalarChunk;
  int64_t End = min(N, Begin + ScalarChunk);
  double S = 0;
  for (int64_t I = Begin + threadIdx.x; I < End; I += BlockThreads)
    S += static_cast<double>(A[I]) * B[I];
  finishScalar(S, K);
}

} // namespace

void CUDABackend::reduce(const ReduceDesc &D, FPtr XP, FPtr YP, bool Acc) {
  Plan P(D);
  bool Max = D.Kind == ReduceKind::Max;
  float *Y = at(YP);
  if (P.KeptCount == 0)
    return;
  if (P.Count == 0) {
    launch(*this, "reduce", storeConstant, dim3(gridFor(P.KeptCount)),
           dim3(BlockThreads), 0, Y, P.KeptCount, Max ? -INFINITY : 0.0f, Acc);
    return;
  }
  const float *X = at(XP);
  if (P.InnerReduced || P.Count == 1) {
    int64_t Chunks = (P.Count + RowChunk - 1) / RowChunk;
    bool Warp = P.Count <= 1024;
    int64_t Blocks = Warp ? (P.KeptCount + WarpsPerBlock - 1) / WarpsPerBlock
                          : P.KeptCount;
    if (Blocks > INT32_MAX || Chunks > 65535)
      return fail("a reduction of " + std::to_string(P.Count) + " by " +
                  std::to_string(P.KeptCount) + " elements is too large");
    double *Part = Chunks > 1 ? static_cast<double *>(
                                    scratch(P.KeptCount * Chunks * 8))
                              : nullptr;
    dim3 Grid(static_cast<unsigned>(Blocks), static_cast<unsigned>(Chunks));
    launch(*this, "reduce", Warp ? reduceRows<32> : reduceRows<BlockThreads>,
           Grid, dim3(BlockThreads), 0, P, Max, D.Scale, X, Y, Acc, Part);
    if (Part)
      launch(*this, "reduce", reduceColumnSum, dim3(gridFor(P.KeptCount)),
             dim3(BlockThreads), 0, P, Chunks, Max, D.Scale,
             static_cast<const double *>(Part), Y, Acc);
    dropScratch(Part);
    return;
  }
  int64_t Chunks = (P.Count + ColumnChunk - 1) / ColumnChunk;
  auto *Part = static_cast<double *>(scratch(P.KeptCount * Chunks * 8));
  launch(*this, "reduce", reduceColumnParts, dim3(gridFor(P.KeptCount * Chunks)),
         dim3(BlockThreads), 0, P, Max, X, Part);
  launch(*this, "reduce", reduceColumnSum, dim3(gridFor(P.KeptCount)),
         dim3(BlockThreads), 0, P, Chunks, Max, D.Scale,
         static_cast<const double *>(Part), Y, Acc);
  dropScratch(Part);
}

void CUDABackend::reduceMaxGrad(const ReduceDesc &D, FPtr X, FPtr Y, FPtr DY,
                                FPtr DX, bool Acc) {
  Plan P(D);
  if (P.KeptCount == 0 || P.Count == 0)
    return;
  auto *Share = static_cast<float *>(scratch(P.KeptCount * 4));
  launch(*this, "reduceMaxGrad", maxShares, dim3(gridFor(P.KeptCount)),
         dim3(BlockThreads), 0, P, at(X), at(Y), at(DY), Share);
  launch(*this, "reduceMaxGrad", maxScatter,
         dim3(gridFor(P.KeptCount * P.Count)), dim3(BlockThreads), 0, P, at(X),
         at(Y), static_cast<const float *>(Share), at(DX), Acc);
  dropScratch(Share);
}

double CUDABackend::sumSquares(FPtr X, int64_t Rows, int64_t Cols, int64_t Ld) {
  int64_t N = Rows * Cols;
  return scalarReduce(*this, N, [&](dim3 Grid, ScalarSink K) {
    launch(*this, "sumSquares", sumSquaresKernel, Grid, dim3(BlockThreads), 0,
           at(X), N, Cols, Ld, K);
  });
}

double CUDABackend::dot(FPtr A, FPtr B, int64_t N) {
  return scalarReduce(*this, N, [&](dim3 Grid, ScalarSink K) {
    launch(*this, "dot", dotKernel, Grid, dim3(BlockThreads), 0, at(A), at(B),
           N, K);
  });
}
