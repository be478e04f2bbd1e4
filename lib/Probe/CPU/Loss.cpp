//===- Loss.cpp - cross-entropy, NLL and optimizer updates ----------------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cmath>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

void CPUBackend::crossEntropy(int64_t Rows, int64_t Classes, FPtr LP, IPtr TP,
                              FPtr RLP, FPtr DLP, float Scale) {
  const float *Logits = at(LP);
  const int64_t *T = at(TP);
  float *RowLoss = at(RLP);
  float *DL = DLP ? at(DLP) : nullptr;
  Par.forRange(Rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(Classes, 1)),
               [&](int64_t B, int64_t E) {
    for (int64_t R = B; R < E; ++R) {
      const float *X = Logits + R * Classes;
      float Max = -INFINITY;
      for (int64_t I = 0; I < Classes; ++I)
        Max = std::fmax(Max, X[I]);
      double Sum = 0;
      for (int64_t I = 0; I < Classes; ++I)
        Sum += std::exp(static_cast<double>(X[I]) - Max);
      double LogSum = Max + std::log(Sum);
      RowLoss[R] = static_cast<float>(LogSum - X[T[R]]);
      if (!DL)
        continue;
      float *G = DL + R * Classes;
      for (int64_t I = 0; I < Classes; ++I)
        G[I] = Scale * static_cast<float>(std::exp(X[I] - LogSum));
      G[T[R]] -= Scale;
    }
  });
}

void CPUBackend::nll(const NllDesc &D, FPtr LPP, IPtr TP, FPtr WP, FPtr LossP,
                     FPtr OWP) {
  const float *LogP = at(LPP);
  const int64_t *T = at(TP);
  const float *Weight = WP ? at(WP) : nullptr;
  float *Loss = at(LossP), *W = at(OWP);
  for (int64_t N = 0; N < D.N; ++N)
    for (int64_t I = 0; I < D.Inner; ++I) {
      int64_t K = N * D.Inner + I, C = T[K];
      if (D.HasIgnore && C == D.IgnoreIndex) {
        Loss[K] = 0;
        W[K] = 0;
        continue;
      }
      float WV = Weight ? Weight[C] : 1.0f;
      W[K] = WV;
      Loss[K] = -WV * LogP[(N * D.C + C) * D.Inner + I];
    }
}

void CPUBackend::nllGrad(const NllDesc &D, IPtr TP, FPtr WP, FPtr DLP,
                         FPtr DXP, bool Acc) {
  const int64_t *T = at(TP);
  const float *W = at(WP), *DL = at(DLP);
  float *DX = at(DXP);
  for (int64_t N = 0; N < D.N; ++N)
    for (int64_t C = 0; C < D.C; ++C)
      for (int64_t I = 0; I < D.Inner; ++I) {
        int64_t K = N * D.Inner + I;
        bool Hit = T[K] == C && W[K] != 0;
        store(DX + (N * D.C + C) * D.Inner + I, Hit ? -W[K] * DL[K] : 0.0f, Acc);
      }
}

double CPUBackend::sgdUpdate(FPtr WP, FPtr GP, int64_t N, float Lr) {
  float *W = at(WP);
  const float *G = at(GP);
  return blockSum(N, [&](int64_t B, int64_t E) {
    double S = 0;
    for (int64_t I = B; I < E; ++I) {
      float U = -Lr * G[I];
      W[I] += U;
      S += static_cast<double>(U) * U;
    }
    return S;
  });
}

double CPUBackend::adamUpdate(FPtr WP, FPtr GP, FPtr MP, FPtr VP, int64_t N,
                              const AdamParams &P) {
  float *W = at(WP), *M = at(MP), *V = at(VP);
  const float *G = at(GP);
  double C1 = 1.0 - std::pow(static_cast<double>(P.Beta1), P.Step);
  double C2 = 1.0 - std::pow(static_cast<double>(P.Beta2), P.Step);
  float StepSize = static_cast<float>(P.Lr / C1);
  float Root2 = static_cast<float>(std::sqrt(C2));
  return blockSum(N, [&](int64_t B, int64_t E) {
    double S = 0;
    for (int64_t I = B; I < E; ++I) {
      M[I] = P.Beta1 * M[I] + (1 - P.Beta1) * G[I];
      V[I] = P.Beta2 * V[I] + (1 - P.Beta2) * G[I] * G[I];
      float U = -StepSize * M[I] / (std::sqrt(V[I]) / Root2 + P.Epsilon);
      W[I] += U;
      S += static_cast<double>(U) * U;
    }
    return S;
  });
}
