//===- Movement.cpp - strided copies and triangles, forward and gradient --===//
//
// One strided copy serves Transpose, Slice, Concat, Split and Expand and the
// gradients of all of them (with Acc, and Alpha for Sub's negation).
//
//===----------------------------------------------------------------------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cstring>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

void CPUBackend::copy(const CopyDesc &D, FPtr SP, FPtr DP, bool Acc) {
  const float *S = at(SP);
  float *Dst = at(DP);
  RowWalker<2> W{D.Rank, D.Shape, {D.SrcStride, D.DstStride}};
  int64_t Len = W.rowLength();
  int64_t SS = W.innerStride(0), DS = W.innerStride(1);
  if (D.Rank == 0)
    SS = DS = 1;
  float Alpha = D.Alpha;
  Par.forRange(W.rows(), std::max<int64_t>(1, ElementGrain / std::max<int64_t>(Len, 1)),
               [&](int64_t B, int64_t E) {
    W.walk(B, E, [&](int64_t, const std::array<int64_t, 2> &Off) {
      const float *PS = S + Off[0];
      float *PD = Dst + Off[1];
      if (SS == 1 && DS == 1 && Alpha == 1 && !Acc) {
        std::memcpy(PD, PS, Len * sizeof(float));
        return;
      }
      for (int64_t I = 0; I < Len; ++I)
        store(PD + I * DS, Alpha * PS[I * SS], Acc);
    });
  });
}

void CPUBackend::trilu(const TriluDesc &D, FPtr XP, FPtr YP, bool Acc) {
  const float *X = at(XP);
  float *Y = at(YP);
  int64_t Mat = D.Rows * D.Cols;
  Par.forRange(D.Batch * D.Rows, std::max<int64_t>(1, ElementGrain / std::max<int64_t>(D.Cols, 1)),
               [&](int64_t B, int64_t E) {
    for (int64_t L = B; L < E; ++L) {
      int64_t I = L % D.Rows, Base = (L / D.Rows) * Mat + I * D.Cols;
      for (int64_t J = 0; J < D.Cols; ++J) {
        bool Keep = D.Upper ? J - I >= D.K : J - I <= D.K;
        store(Y + Base + J, Keep ? X[Base + J] : 0.0f, Acc);
      }
    }
  });
}
