//===- Softmax.cu - softmax and log-softmax, forward and gradient ---------===//
//
// Fused: one team (a warp for lines up to 1024 elements, else a block) per
// line finds the max, the sum in double, and writes the line; the gradient
// likewise reduces its dot product in double and writes dx. The arithmetic
// is CPU/Softmax.cpp's, element for element.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

/// Lines up to this long get a warp; longer ones a block.
constexpr int64_t WarpLine = 1024;
constexpr int WarpsPerBlock = BlockThreads / 32;

/// Where a team works: its line and its lane within the team.
template <bool Warp> struct Team {
  int64_t Line;
  int Lane, Size;
  __device__ Team() {
    if (Warp) {
      Line = blockIdx.x * int64_t(WarpsPerBlock) + threadIdx.x / 32;
      Lane = threadIdx.x & 31;
      Size = 32;
    } else {
      Line = blockIdx.x;
      Lane = threadIdx.x;
      Size = BlockThreads;
    }
  }
  /// A sum over the team, returned to every member.
  __device__ double sum(double V, double *Shm) const {
    if (!Warp)
      return blockSum(V, Shm);
    V = warpSum(V);
    return __shfl_sync(0xffffffffu, V, 0);
  }
  __device__ float max(float V, float *Shm) const {
    if (!Warp)
      return blockMax(V, Shm);
    V = warpMax(V);
    return __shfl_sync(0xffffffffu, V, 0);
  }
};

template <bool Warp>
__global__ void softmaxKernel(SoftmaxDesc D, const float *X, float *Y) {
  __shared__ double ShmD[BlockThreads / 32];
  __shared__ float ShmF[BlockThreads / 32];
  Team<Warp> T;
  int64_t Lines = D.Outer * D.Inner, N = D.Axis, S = D.Inner;
  if (T.Line >= Lines) // whole warps only: every lane of a warp agrees
    return;
  int64_t Base = (T.Line / S) * N * S + T.Line % S;
  const float *PX = X + Base;
  float *PY = Y + Base;
  float Max = -INFINITY;
  for (int64_t I = T.Lane; I < N; I += T.Size)
    Max = fmaxf(Max, PX[I * S]);
  Max = T.max(Max, ShmF);
  if (Max == -INFINITY && D.ZeroMaskedLines) {
    for (int64_t I = T.Lane; I < N; I += T.Size)
      PY[I * S] = D.Log ? -INFINITY : 0.0f;
    return;
  }
  double Sum = 0;
  for (int64_t I = T.Lane; I < N; I += T.Size)
    Sum += expf(PX[I * S] - Max);
  Sum = T.sum(Sum, ShmD);
  if (D.Log) {
    float LogSum = Max + static_cast<float>(log(Sum));
    for (int64_t I = T.Lane; I < N; I += T.Size)
      PY[I * S] = PX[I * S] - LogSum;
  } else {
    float Inv = static_cast<float>(1.0 / Sum);
    for (int64_t I = T.Lane; I < N; I += T.Size)
      PY[I * S] = expf(PX[I * S] - Max) * Inv;
  }
}

template <bool Warp>
__global__ void softmaxGradKernel(SoftmaxDesc D, const float *Y,
                                  const float *DY, float *DX, bool Acc) {
  __shared__ double ShmD[BlockThreads / 32];
  Team<Warp> T;
  int64_t Lines = D.Outer * D.Inner, N = D.Axis, S = D.Inner;
  if (T.Line >= Lines)
    return;
  int64_t Base = (T.Line / S) * N * S + T.Line % S;
  const float *PY = Y + Base, *PG = DY + Base;
  float *PD = DX + Base;
  double Dot = 0;
  for (int64_t I = T.Lane; I < N; I += T.Size)
    Dot += D.Log ? static_cast<double>(PG[I * S])
                 : static_cast<double>(PG[I * S]) * PY[I * S];
  float TV = static_cast<float>(T.sum(Dot, ShmD));
  if (D.Log) {
    // y = log p: dx = dy - p * sum(dy)
    for (int64_t I = T.Lane; I < N; I += T.Size)
      store(PD + I * S, PG[I * S] - expf(PY[I * S]) * TV, Acc);
  } else {
    // dx = p * (dy - sum(dy * p))
    for (int64_t I = T.Lane; I < N; I += T.Size)
      store(PD + I * S, PY[I * S] * (PG[I * S] - TV), Acc);
  }
}

unsigned lineBlocks(int64_t Lines, bool Warp) {
  int64_t G = Warp ? (Lines + WarpsPerBlock - 1) / WarpsPerBlock : Lines;
  return static_cast<unsigned>(G);
}

} // namespace

void CUDABackend::softmax(const SoftmaxDesc &D, FPtr X, FPtr Y) {
  int64_t Lines = D.Outer * D.Inner;
  if (Lines == 0 || D.Axis == 0)
    return;
  if (Lines > INT32_MAX) {
    fail("softmax over more than 2^31 lines");
    return;
  }
  bool Warp = D.Axis <= WarpLine;
  launch(*this, "softmax", Warp ? softmaxKernel<true> : softmaxKernel<false>,
         dim3(lineBlocks(Lines, Warp)), dim3(BlockThreads), 0, D, at(X), at(Y));
}

void CUDABackend::softmaxGrad(const SoftmaxDesc &D, FPtr Y, FPtr DY, FPtr DX,
                              bool Acc) {
  int64_t Lines = D.Outer * D.Inner;
  if (Lines == 0 || D.Axis == 0)
    return;
  if (Lines > INT32_MAX) {
    fail("softmax over more than 2^31 lines");
    return;
  }
  bool Warp = D.Axis <= WarpLine;
  launch(*this, "softmaxGrad",
         Warp ? softmaxGradKernel<true> : softmaxGradKernel<false>,
         dim3(lineBlocks(Lines, Warp)), dim3(BlockThreads), 0, D, at(Y), at(DY),
         at(DX), Acc);
}
