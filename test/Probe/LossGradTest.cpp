//===- LossGradTest.cpp - SoftmaxCrossEntropyLoss, NLL gradients ----------===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
GradCase loss(const char *Op, const char *Reduction, bool Weights, bool Ignore,
              bool Spatial) {
  GradCase C;
  C.Name = std::string(Op) + " " + Reduction + (Weights ? " weights" : "") +
           (Ignore ? " ignore" : "") + (Spatial ? " spatial" : "");
  if (Weights)
    C.Constants = {"w"};
  C.Build = [=](OnnxBuilder &G) {
    std::vector<int64_t> X = Spatial ? std::vector<int64_t>{2, 4, 3}
                                     : std::vector<int64_t>{3, 4};
    param(G, "x", X);
    if (Spatial)
      G.int64Init("t", {2, 3}, {0, 3, 2, 1, 1, 3});
    else
      G.int64Init("t", {3}, {2, 0, 3});
    std::vector<std::string> In = {"x", "t"};
    if (Weights) {
      G.floatInit("w", {4}, {0.5f, 1.0f, 2.0f, 0.7f});
      In.push_back("w");
    }
    Attrs A = {{"reduction", std::string(Reduction)}};
    if (Ignore)
      A["ignore_index"] = int64_t(3);
    G.node(Op, In, {"y"}, A);
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: losses", "[probe][grad]") {
  std::vector<GradCase> Cases;
  for (const char *Op : {"SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"})
    for (const char *R : {"mean", "sum", "none"}) {
      Cases.push_back(loss(Op, R, false, false, false));
      Cases.push_back(loss(Op, R, true, true, true));
    }
  checkTable(Cases);
}
