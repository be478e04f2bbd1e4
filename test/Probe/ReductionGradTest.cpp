//===- ReductionGradTest.cpp - ReduceSum, ReduceMean, ReduceMax -----------===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
GradCase reduce(const char *Op, std::vector<int64_t> Axes, int64_t Keep,
                int64_t Opset) {
  GradCase C;
  C.Name = std::string(Op) + " axes " + std::to_string(Axes.size()) + " keep " +
           std::to_string(Keep) + " opset " + std::to_string(Opset);
  C.Opset = Opset;
  C.Build = [=](OnnxBuilder &G) {
    // Distinct values (a permutation of a grid): no ties for the maximum.
    std::vector<float> V(24);
    for (int I = 0; I < 24; ++I)
      V[I] = 0.1f * ((I * 7) % 24) - 1.2f;
    G.floatInit("x", {2, 3, 4}, V);
    bool AxesInput = (std::string(Op) == "ReduceSum" && Opset >= 13) || Opset >= 18;
    if (AxesInput && !Axes.empty()) {
      G.constantInt64("axes", {static_cast<int64_t>(Axes.size())}, Axes);
      G.node(Op, {"x", "axes"}, {"y"}, {{"keepdims", Keep}});
    } else if (AxesInput || Axes.empty()) {
      G.node(Op, {"x"}, {"y"}, {{"keepdims", Keep}});
    } else {
      G.node(Op, {"x"}, {"y"}, {{"keepdims", Keep}, {"axes", Axes}});
    }
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: reductions", "[probe][grad]") {
  std::vector<GradCase> Cases;
  for (const char *Op : {"ReduceSum", "ReduceMean", "ReduceMax"})
    for (int64_t Opset : {11, 18}) {
      Cases.push_back(reduce(Op, {-1}, 1, Opset));
      Cases.push_back(reduce(Op, {0, 2}, 0, Opset));
      Cases.push_back(reduce(Op, {1}, 0, Opset));
      Cases.push_back(reduce(Op, {}, 1, Opset));
    }
  checkTable(Cases);
}
