//===- PositionsTest.cpp - per-position means against a real forward pass -===//
//
// In a causal decoder with learned positions, attention turns the
// positional embedding's spread into a mean shared by every token, and the
// residual stream's shared mean grows block by block. The static analysis
// tracks per-position means to predict that; the oracle is the probe's own
// forward pass on 16 draws (measureCalibration), whose per-feature moments
// say how much of each value's energy is the shared mean.
//
//===----------------------------------------------------------------------===//
#include "TestPaths.h"
#include "Zoo.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Loader/Loader.h"
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>

using namespace gradlint;
using namespace gradlint::test;

namespace {
/// Share of E‖x‖² carried by the mean over tokens.
double meanShare(const ValueSummary &S) {
  double Mean2 = 0, Var = 0;
  for (int64_t F = 0; F < S.Features; ++F) {
    Mean2 += S.Mean[F] * S.Mean[F];
    Var += S.Var[F];
  }
  return Mean2 / (Mean2 + Var);
}
} // namespace

TEST_CASE("zoo: the residual stream's shared mean grows as measured",
          "[zoo][analysis][positions]") {
  std::vector<ZooModel> Zoo = zooModels();
  auto It = std::find_if(Zoo.begin(), Zoo.end(),
                         [](const ZooModel &Z) { return Z.Name == "gpt_L24_d32"; });
  REQUIRE(It != Zoo.end());
  auto M = loadModel(It->modelPath());
  REQUIRE(bool(M));
  auto C = measureCalibration(**M, It->dims(), nullptr);
  REQUIRE(bool(C));
  REQUIRE(bool(inferShapes(**M, It->dims())));
  auto R = analyze(**M);
  REQUIRE(bool(R));
  const Graph &G = (*M)->G;
  for (int Block : {0, 6, 12, 18, 23}) {
    for (std::string Name : {"/h." + std::to_string(Block) + "/ln_1/LayerNormalization_output_0",
                             "/h." + std::to_string(Block) + "/attn/c_proj/Add_output_0",
                             "/h." + std::to_string(Block) + "/Add_1_output_0"}) {
      ValueId V = G.findValue(Name);
      REQUIRE(V != NoId);
      double Measured = meanShare((*C)->Values.at(V));
      double Predicted = meanShare(R->Forward[V]);
      INFO(Name << ": mean share predicted " << Predicted << ", measured " << Measured);
      CHECK(std::fabs(Predicted - Measured) <= 0.06);
    }
  }
}
