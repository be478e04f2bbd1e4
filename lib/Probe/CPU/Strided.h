//===- Strided.h - walking strided tensors row by row (private) -*- C++ -*-===//
#ifndef GRADLINT_LIB_PROBE_CPU_STRIDED_H
#define GRADLINT_LIB_PROBE_CPU_STRIDED_H

#include "gradlint/Probe/Backend.h"
#include <array>
#include <cstdint>

namespace gradlint::probe::cpu {

/// Rows of an N-d index space whose last dimension is the inner loop.
/// Shape[Rank-1] is the row length; a rank-0 space is one row of length 1.
template <unsigned K> struct RowWalker {
  unsigned Rank;
  const int64_t *Shape;
  std::array<const int64_t *, K> Strides;

  int64_t rowLength() const { return Rank ? Shape[Rank - 1] : 1; }
  int64_t rows() const {
    int64_t R = 1;
    for (unsigned D = 0; D + 1 < Rank; ++D)
      R *= Shape[D];
    return Rank ? R : 1;
  }
  int64_t innerStride(unsigned Op) const {
    return Rank ? Strides[Op][Rank - 1] : 0;
  }
  /// Calls F(Row, Offsets) for rows [Begin, End); Offsets are the operands'
  /// element offsets at the start of the row.
  template <typename Fn> void walk(int64_t Begin, int64_t End, Fn &&F) const {
    if (Begin >= End)
      return;
    int64_t Idx[MaxKernelRank] = {};
    std::array<int64_t, K> Off{};
    int64_t R = Begin;
    for (int D = static_cast<int>(Rank) - 2; D >= 0; --D) {
      Idx[D] = R % Shape[D];
      R /= Shape[D];
      for (unsigned Op = 0; Op != K; ++Op)
        Off[Op] += Idx[D] * Strides[Op][D];
    }
    for (int64_t Row = Begin; Row < End; ++Row) {
      F(Row, Off);
      for (int D = static_cast<int>(Rank) - 2; D >= 0; --D) {
        for (unsigned Op = 0; Op != K; ++Op)
          Off[Op] += Strides[Op][D];
        if (++Idx[D] < Shape[D])
          break;
        for (unsigned Op = 0; Op != K; ++Op)
          Off[Op] -= Idx[D] * Strides[Op][D];
        Idx[D] = 0;
      }
    }
  }
};

/// Writes V into *D, or adds it when accumulating.
inline void store(float *D, float V, bool Acc) { *D = Acc ? *D + V : V; }

/// Grain (in elements) below which elementwise loops stay on one thread.
constexpr int64_t ElementGrain = 1 << 15;

} // namespace gradlint::probe::cpu

#endif
