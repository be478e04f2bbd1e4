//===- Random.h - the one deterministic generator ---------------*- C++ -*-===//
//
// Inputs, targets and Monte Carlo tables all draw from this generator, so the
// analysis and the probe see the same numbers for the same seed on every
// platform (no std::*_distribution, whose output is implementation-defined).
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_SUPPORT_RANDOM_H
#define GRADLINT_SUPPORT_RANDOM_H

#include <cstdint>

namespace gradlint {

/// xoshiro256** seeded through splitmix64.
class Rng {
public:
  explicit Rng(uint64_t Seed);
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform integer in [0, N) without modulo bias; N > 0.
  uint64_t below(uint64_t N);
  /// Standard normal (Box-Muller, both halves used).
  double normal();

private:
  uint64_t S[4];
  bool HaveSpare = false;
  double Spare = 0;
};

} // namespace gradlint

#endif
