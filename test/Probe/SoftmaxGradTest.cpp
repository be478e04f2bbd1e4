//===- SoftmaxGradTest.cpp - Softmax and LogSoftmax gradients -------------===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
GradCase softmax(const char *Op, int64_t Axis, int64_t Opset) {
  GradCase C;
  C.Name = std::string(Op) + " axis " + std::to_string(Axis) + " opset " +
           std::to_string(Opset);
  C.Opset = Opset;
  C.Build = [=](OnnxBuilder &G) {
    param(G, "x", {2, 3, 4});
    G.node(Op, {"x"}, {"y"}, {{"axis", Axis}});
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: Softmax and LogSoftmax", "[probe][grad]") {
  std::vector<GradCase> Cases;
  for (const char *Op : {"Softmax", "LogSoftmax"})
    for (int64_t Axis : {-1, 0, 1})
      for (int64_t Opset : {11, 13})
        Cases.push_back(softmax(Op, Axis, Opset));
  checkTable(Cases);
}
