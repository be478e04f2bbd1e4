//===- Reduction.cpp - sums and maxima over axes, forward and gradient ----===//
//
// Sums accumulate in double in a fixed order (per output element, over the
// reduced indices in row-major order), so results do not depend on threads.
//
//===----------------------------------------------------------------------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cmath>
#include <vector>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

namespace {

/// A ReduceDesc with size-1 dimensions dropped and neighbours of the same
/// kind merged, plus each dimension's stride in the dense input.
struct Plan {
  unsigned Rank = 0;
  int64_t Shape[MaxKernelRank];
  int64_t Stride[MaxKernelRank];
  bool Reduced[MaxKernelRank];
  int64_t Kept = 1, Count = 1; ///< output elements, elements per group

  explicit Plan(const ReduceDesc &D) {
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
    for (int I = static_cast<int>(Rank) - 1; I >= 0; --I) {
      Stride[I] = S;
      S *= Shape[I];
      (Reduced[I] ? Count : Kept) *= Shape[I];
    }
    for (unsigned I = 0; I != D.Rank; ++I)
      if (D.Shape[I] == 0)
        (D.Reduced[I] ? Count : Kept) = 0;
  }
  /// Input offsets of a group's elements, relative to its first element.
  std::vector<int64_t> groupOffsets() const {
    return offsets(true);
  }
  /// Input offset of each group's first element, in output order.
  std::vector<int64_t> groupBases() const { return offsets(false); }

private:
  std::vector<int64_t> offsets(bool OfReduced) const {
    std::vector<int64_t> Out{0};
    for (unsigned I = 0; I != Rank; ++I) {
      if (Reduced[I] != OfReduced)
        continue;
      std::vector<int64_t> Next;
      Next.reserve(Out.size() * Shape[I]);
      for (int64_t O : Out)
        for (int64_t J = 0; J < Shape[I]; ++J)
          Next.push_back(O + J * Stride[I]);
      Out.swap(Next);
    }
    return Out;
  }
};

} // namespace

void CPUBackend::reduce(const ReduceDesc &D, FPtr XP, FPtr YP, bool Acc) {
  const float *X = at(XP);
  float *Y = at(YP);
  Plan P(D);
  bool Max = D.Kind == ReduceKind::Max;
  if (P.Kept == 0)
    return;
  if (P.Count == 0) {
    for (int64_t K = 0; K < P.Kept; ++K)
      store(Y + K, Max ? -INFINITY : 0.0f, Acc);
    return;
  }
  // One reduced group [K1, R, K2]: stream rows of K2 elements.
  unsigned Groups = 0, At = 0;
  for (unsigned I = 0; I != P.Rank; ++I)
    if (P.Reduced[I])
      ++Groups, At = I;
  if (Groups == 1) {
    int64_t R = P.Shape[At], K2 = P.Stride[At], K1 = P.Kept / K2;
    auto Line = [&](int64_t K1I, int64_t J0, int64_t J1, std::vector<double> &Acc2) {
      const float *Base = X + K1I * R * K2;
      Acc2.assign(J1 - J0, Max ? -INFINITY : 0.0);
      for (int64_t Rr = 0; Rr < R; ++Rr) {
        const float *Row = Base + Rr * K2;
        for (int64_t J = J0; J < J1; ++J)
          Acc2[J - J0] = Max ? std::fmax(Acc2[J - J0], Row[J]) : Acc2[J - J0] + Row[J];
      }
      for (int64_t J = J0; J < J1; ++J)
        store(Y + K1I * K2 + J, static_cast<float>(Acc2[J - J0] * (Max ? 1 : D.Scale)), Acc);
    };
    if (K2 == 1) {
      Par.forRange(K1, std::max<int64_t>(1, ElementGrain / R), [&](int64_t B, int64_t E) {
        for (int64_t K = B; K < E; ++K) {
          const float *Row = X + K * R;
          double S = Max ? -INFINITY : 0.0;
          for (int64_t Rr = 0; Rr < R; ++Rr)
            S = Max ? std::fmax(S, Row[Rr]) : S + Row[Rr];
          store(Y + K, static_cast<float>(Max ? S : S * D.Scale), Acc);
        }
      });
    } else if (K1 >= Par.threads()) {
      Par.forRange(K1, 1, [&](int64_t B, int64_t E) {
        std::vector<double> Tmp;
        for (int64_t K = B; K < E; ++K)
          Line(K, 0, K2, Tmp);
      });
    } else {
      for (int64_t K = 0; K < K1; ++K)
        Par.forRange(K2, 256, [&](int64_t B, int64_t E) {
          std::vector<double> Tmp;
          Line(K, B, E, Tmp);
        });
    }
    return;
  }
  std::vector<int64_t> Offs = P.groupOffsets(), Bases = P.groupBases();
  Par.forRange(P.Kept, 16, [&](int64_t B, int64_t E) {
    for (int64_t K = B; K < E; ++K) {
      const float *Base = X + Bases[K];
      double S = Max ? -INFINITY : 0.0;
      for (int64_t O : Offs)
        S = Max ? std::fmax(S, Base[O]) : S + Base[O];
      store(Y + K, static_cast<float>(Max ? S : S * D.Scale), Acc);
    }
  });
}

void CPUBackend::reduceMaxGrad(const ReduceDesc &D, FPtr XP, FPtr YP, FPtr DYP,
                               FPtr DXP, bool Acc) {
  const float *X = at(XP), *Y = at(YP), *DY = at(DYP);
  float *DX = at(DXP);
  Plan P(D);
  if (P.Kept == 0 || P.Count == 0)
    return;
  std::vector<int64_t> Offs = P.groupOffsets(), Bases = P.groupBases();
  Par.forRange(P.Kept, 16, [&](int64_t B, int64_t E) {
    for (int64_t K = B; K < E; ++K) {
      const float *Base = X + Bases[K];
      int64_t Ties = 0;
      for (int64_t O : Offs)
        Ties += Base[O] == Y[K];
      float Share = Ties ? DY[K] / static_cast<float>(Ties) : 0.0f;
      for (int64_t O : Offs)
        store(DX + Bases[K] + O, Base[O] == Y[K] ? Share : 0.0f, Acc);
    }
  });
}

double CPUBackend::sumSquares(FPtr XP, int64_t Rows, int64_t Cols, int64_t Ld) {
  const float *X = at(XP);
  if (Cols == Ld)
    return blockSum(Rows * Cols, [&](int64_t B, int64_t E) {
      double S = 0;
      for (int64_t I = B; I < E; ++I)
        S += static_cast<double>(X[I]) * X[I];
      return S;
    });
  double Total = 0;
  for (int64_t R = 0; R < Rows; ++R) {
    double S = 0;
    for (int64_t I = 0; I < Cols; ++I)
      S += static_cast<double>(X[R * Ld + I]) * X[R * Ld + I];
    Total += S;
  }
  return Total;
}

double CPUBackend::dot(FPtr AP, FPtr BP, int64_t N) {
  const float *A = at(AP), *B = at(BP);
  return blockSum(N, [&](int64_t Begin, int64_t End) {
    double S = 0;
    for (int64_t I = Begin; I < End; ++I)
      S += static_cast<double>(A[I]) * B[I];
    return S;
  });
}
