//===- Random.cpp ---------------------------------------------------------===//
#include "gradlint/Support/Random.h"
#include <cmath>

using namespace gradlint;

static uint64_t splitmix64(uint64_t &X) {
  uint64_t Z = (X += 0x9e3779b97f4a7c15ull);
  Z = (Z ^ (Z >> 30)) * 0xbf58476d1ce4e5b9ull;
  Z = (Z ^ (Z >> 27)) * 0x94d049bb133111ebull;
  return Z ^ (Z >> 31);
}

static uint64_t rotl(uint64_t X, int K) { return (X << K) | (X >> (64 - K)); }

Rng::Rng(uint64_t Seed) {
  for (uint64_t &Word : S)
    Word = splitmix64(Seed);
}

uint64_t Rng::next() {
  uint64_t Result = rotl(S[1] * 5, 7) * 9;
  uint64_t T = S[1] << 17;
  S[2] ^= S[0];
  S[3] ^= S[1];
  S[1] ^= S[2];
  S[0] ^= S[3];
  S[2] ^= T;
  S[3] = rotl(S[3], 45);
  return Result;
}

double Rng::uniform() { return (next() >> 11) * 0x1.0p-53; }

uint64_t Rng::below(uint64_t N) {
  uint64_t Limit = UINT64_MAX - UINT64_MAX % N;
  uint64_t X;
  do
    X = next();
  while (X >= Limit);
  return X % N;
}

double Rng::normal() {
  if (HaveSpare) {
    HaveSpare = false;
    return Spare;
  }
  double U1;
  do
    U1 = uniform();
  while (U1 <= 0.0);
  double U2 = uniform();
  double R = std::sqrt(-2.0 * std::log(U1));
  double Theta = 2.0 * M_PI * U2;
  Spare = R * std::sin(Theta);
  HaveSpare = true;
  return R * std::cos(Theta);
}
