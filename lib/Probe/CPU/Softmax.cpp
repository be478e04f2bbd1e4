//===- Softmax.cpp - softmax and log-softmax, forward and gradient --------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cmath>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

void CPUBackend::softmax(const SoftmaxDesc &D, FPtr XP, FPtr YP) {
  const float *X = at(XP);
  float *Y = at(YP);
  int64_t Lines = D.Outer * D.Inner, N = D.Axis, S = D.Inner;
  Par.forRange(Lines, std::max<int64_t>(1, 4096 / std::max<int64_t>(N, 1)),
               [&](int64_t B, int64_t E) {
    for (int64_t L = B; L < E; ++L) {
      int64_t Base = (L / S) * N * S + L % S;
      const float *PX = X + Base;
      float *PY = Y + Base;
      float Max = -INFINITY;
      for (int64_t I = 0; I < N; ++I)
        Max = std::fmax(Max, PX[I * S]);
      if (Max == -INFINITY && D.ZeroMaskedLines) {
        for (int64_t I = 0; I < N; ++I)
          PY[I * S] = D.Log ? -INFINITY : 0.0f;
        continue;
      }
      double Sum = 0;
      for (int64_t I = 0; I < N; ++I) {
        float V = std::exp(PX[I * S] - Max);
        if (!D.Log)
          PY[I * S] = V;
        Sum += V;
      }
      if (D.Log) {
        float LogSum = Max + static_cast<float>(std::log(Sum));
        for (int64_t I = 0; I < N; ++I)
          PY[I * S] = PX[I * S] - LogSum;
      } else {
        float Inv = static_cast<float>(1.0 / Sum);
        for (int64_t I = 0; I < N; ++I)
          PY[I * S] *= Inv;
      }
    }
  });
}

void CPUBackend::softmaxGrad(const SoftmaxDesc &D, FPtr YP, FPtr DYP, FPtr DXP,
                             bool Acc) {
  const float *Y = at(YP), *DY = at(DYP);
  float *DX = at(DXP);
  int64_t Lines = D.Outer * D.Inner, N = D.Axis, S = D.Inner;
  Par.forRange(Lines, std::max<int64_t>(1, 4096 / std::max<int64_t>(N, 1)),
               [&](int64_t B, int64_t E) {
    for (int64_t L = B; L < E; ++L) {
      int64_t Base = (L / S) * N * S + L % S;
      const float *PY = Y + Base, *PG = DY + Base;
      float *PD = DX + Base;
      double Dot = 0;
      if (D.Log) {
        // y = log p: dx = dy - p * sum(dy)
        for (int64_t I = 0; I < N; ++I)
          Dot += PG[I * S];
        float T = static_cast<float>(Dot);
        for (int64_t I = 0; I < N; ++I)
          store(PD + I * S, PG[I * S] - std::exp(PY[I * S]) * T, Acc);
      } else {
        // dx = p * (dy - sum(dy * p))
        for (int64_t I = 0; I < N; ++I)
          Dot += static_cast<double>(PG[I * S]) * PY[I * S];
        float T = static_cast<float>(Dot);
        for (int64_t I = 0; I < N; ++I)
          store(PD + I * S, PY[I * S] * (PG[I * S] - T), Acc);
      }
    }
  });
}
