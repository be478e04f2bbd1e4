//===- Gather.cpp - row gathers and their scatter-add gradients -----------===//
//
// Scatter-adds are deterministic: each thread owns a disjoint slice of the
// destination and visits the indices in order.
//
//===----------------------------------------------------------------------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cstring>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

void CPUBackend::gather(const GatherDesc &D, FPtr XP, IPtr IP, FPtr YP) {
  const float *X = at(XP);
  const int64_t *Idx = at(IP);
  float *Y = at(YP);
  int64_t In = D.Inner;
  Par.forRange(D.Outer * D.Count, std::max<int64_t>(1, ElementGrain / std::max<int64_t>(In, 1)),
               [&](int64_t B, int64_t E) {
    for (int64_t L = B; L < E; ++L) {
      int64_t O = L / D.Count, C = L % D.Count;
      std::memcpy(Y + L * In, X + (O * D.AxisSize + Idx[C]) * In, In * sizeof(float));
    }
  });
}

void CPUBackend::gatherGrad(const GatherDesc &D, IPtr IP, FPtr DYP, FPtr DXP,
                            bool Acc) {
  const int64_t *Idx = at(IP);
  const float *DY = at(DYP);
  float *DX = at(DXP);
  int64_t In = D.Inner;
  if (!Acc)
    fill(DXP, D.Outer * D.AxisSize * In, 0.0f);
  auto Slice = [&](int64_t O, int64_t J0, int64_t J1) {
    for (int64_t C = 0; C < D.Count; ++C) {
      float *PD = DX + (O * D.AxisSize + Idx[C]) * In;
      const float *PS = DY + (O * D.Count + C) * In;
      for (int64_t J = J0; J < J1; ++J)
        PD[J] += PS[J];
    }
  };
  if (D.Outer >= Par.threads())
    Par.forRange(D.Outer, 1, [&](int64_t B, int64_t E) {
      for (int64_t O = B; O < E; ++O)
        Slice(O, 0, In);
    });
  else
    for (int64_t O = 0; O < D.Outer; ++O)
      Par.forRange(In, 64, [&](int64_t B, int64_t E) { Slice(O, B, E); });
}

void CPUBackend::gatherFlat(FPtr XP, IPtr OP, FPtr YP, int64_t N) {
  const float *X = at(XP);
  const int64_t *Off = at(OP);
  float *Y = at(YP);
  for (int64_t I = 0; I < N; ++I)
    Y[I] = X[Off[I]];
}

void CPUBackend::gatherFlatGrad(IPtr OP, FPtr DYP, FPtr DXP, int64_t N,
                                int64_t XSize, bool Acc) {
  const int64_t *Off = at(OP);
  const float *DY = at(DYP);
  float *DX = at(DXP);
  if (!Acc)
    std::fill(DX, DX + XSize, 0.0f);
  for (int64_t I = 0; I < N; ++I)
    DX[Off[I]] += DY[I];
}
