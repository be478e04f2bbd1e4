//===- Loss.cu - cross-entropy, NLL and optimizer updates -----------------===//
//
// Cross-entropy is fused, one block per row: max, log-sum-exp in double,
// the row's loss, and Scale * (softmax - onehot) in one kernel, with the CPU
// backend's arithmetic. The optimizer updates run on the device and return
// the squared norm of the update through the scalar reduction of Common.cuh.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"
#include <cmath>

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

__global__ void crossEntropyKernel(int64_t Classes, const float *Logits,
                                   const int64_t *Targets, float *RowLoss,
                                   float *DL, float Scale) {
  __shared__ double ShmD[BlockThreads / 32];
  __shared__ float ShmF[BlockThreads / 32];
  int64_t R = blockIdx.x;
  const float *X = Logits + R * Classes;
  float Max = -INFINITY;
  for (int64_t I = threadIdx.x; I < Classes; I += BlockThreads)
    Max = fmaxf(Max, X[I]);
  Max = blockMax(Max, ShmF);
  double Sum = 0;
  for (int64_t I = threadIdx.x; I < Classes; I += BlockThreads)
    Sum += exp(static_cast<double>(X[I]) - Max);
  Sum = blockSum(Sum, ShmD);
  double LogSum = Max + log(Sum);
  int64_t T = Targets[R];
  bool Valid = T >= 0 && T < Classes;
  if (threadIdx.x == 0)
    RowLoss[R] = Valid ? static_cast<float>(LogSum - X[T]) : NAN;
  if (!DL)
    return;
  float *G = DL + R * Classes;
  for (int64_t I = threadIdx.x; I < Classes; I += BlockThreads) {
    float V = Scale * static_cast<float>(exp(X[I] - LogSum));
    G[I] = I == T ? V - Scale : V;
  }
}

__global__ void nllKernel(NllDesc D, const float *LogP, const int64_t *T,
                          const float *Weight, float *Loss, float *W) {
  GL_GRID_LOOP(K, D.N * D.Inner) {
    int64_t N = K / D.Inner, I = K % D.Inner, C = T[K];
    if ((D.HasIgnore && C == D.IgnoreIndex) || C < 0 || C >= D.C) {
      Loss[K] = 0;
      W[K] = 0;
      continue;
    }
    float WV = Weight ? Weight[C] : 1.0f;
    W[K] = WV;
    Loss[K] = -WV * LogP[(N * D.C + C) * D.Inner + I];
  }
}

__global__ void nllGradKernel(NllDesc D, const int64_t *T, const float *W,
                              const float *DL, float *DX, bool Acc) {
  GL_GRID_LOOP(E, D.N * D.C * D.Inner) {
    int64_t I = E % D.Inner, C = E / D.Inner % D.C, N = E / (D.Inner * D.C);
    int64_t K = N * D.Inner + I;
    bool Hit = T[K] == C && W[K] != 0;
    store(DX + E, Hit ? -W[K] * DL[K] : 0.0f, Acc);
  }
}

__global__ void sgdKernel(float *W, const float *G, int64_t N, float Lr,
                          ScalarSink K) {
  int64_t Begin = blockIdx.x * ScalarChunk;
  int64_t End = min(N, Begin + ScalarChunk);
  double S = 0;
  for (int64_t I = Begin + threadIdx.x; I < End; I += BlockThreads) {
    float U = -Lr * G[I];
    W[I] += U;
    S += static_cast<double>(U) * U;
  }
  finishScalar(S, K);
}

__global__ void adamKernel(float *W, const float *G, float *M, float *V,
                           int64_t N, AdamParams P, float StepSize, float Root2,
                           ScalarSink K) {
  int64_t Begin = blockIdx.x * ScalarChunk;
  int64_t End = min(N, Begin + ScalarChunk);
  double S = 0;
  for (int64_t I = Begin + threadIdx.x; I < End; I += BlockThreads) {
    M[I] = P.Beta1 * M[I] + (1 - P.Beta1) * G[I];
    V[I] = P.Beta2 * V[I] + (1 - P.Beta2) * G[I] * G[I];
    float U = -StepSize * M[I] / (sqrtf(V[I]) / Root2 + P.Epsilon);
    W[I] += U;
    S += static_cast<double>(U) * U;
  }
  finishScalar(S, K);
}

} // namespace

void CUDABackend::crossEntropy(int64_t Rows, int64_t Classes, FPtr Logits,
                               IPtr Targets, FPtr RowLoss, FPtr DLogits,
                               float Scale) {
  if (Rows > INT32_MAX)
    return fail("cross-entropy over more than 2^31 rows");
  launch(*this, "crossEntropy", crossEntropyKernel,
         dim3(static_cast<unsigned>(Rows)), dim3(BlockThreads), 0, Classes,
         at(Logits), static_cast<const int64_t *>(at(Targets)), at(RowLoss),
         DLogits ? at(DLogits) : nullptr, Scale);
}

void CUDABackend::nll(const NllDesc &D, FPtr LogProb, IPtr Target, FPtr Weight,
                      FPtr Loss, FPtr W) {
  launch(*this, "nll", nllKernel, dim3(gridFor(D.N * D.Inner)),
         dim3(BlockThreads), 0, D, at(LogProb),
         static_cast<const int64_t *>(at(Target)),
         Weight ? at(Weight) : nullptr, at(Loss), at(W));
}

void CUDABackend::nllGrad(const NllDesc &D, IPtr Target, FPtr W, FPtr DLoss,
                          FPtr DLogProb, bool Acc) {
  launch(*this, "nllGrad", nllGradKernel, dim3(gridFor(D.N * D.C * D.Inner)),
         dim3(BlockThreads), 0, D, static_cast<const int64_t *>(at(Target)),
         at(W), at(DLoss), at(DLogProb), Acc);
}

double CUDABackend::sgdUpdate(FPtr W, FPtr G, int64_t N, float Lr) {
  return scalarReduce(*this, N, [&](dim3 Grid, ScalarSink K) {
    launch(*this, "sgdUpdate", sgdKernel, Grid, dim3(BlockThreads), 0, at(W),
           at(G), N, Lr, K);
  });
}

double CUDABackend::adamUpdate(FPtr W, FPtr G, FPtr M, FPtr V, int64_t N,
                               const AdamParams &P) {
  double C1 = 1.0 - std::pow(static_cast<double>(P.Beta1), P.Step);
  double C2 = 1.0 - std::pow(static_cast<double>(P.Beta2), P.Step);
  float StepSize = static_cast<float>(P.Lr / C1);
  float Root2 = static_cast<float>(std::sqrt(C2));
  return scalarReduce(*this, N, [&](dim3 Grid, ScalarSink K) {
    launch(*this, "adamUpdate", adamKernel, Grid, dim3(BlockThreads), 0, at(W),
           at(G), at(M), at(V), N, P, StepSize, Root2, K);
  });
}
