//===- LinearGradTest.cpp - MatMul and Gemm gradients ---------------------===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
GradCase matMul(const char *Tag, std::vector<int64_t> A, std::vector<int64_t> B) {
  GradCase C;
  C.Name = std::string("MatMul ") + Tag;
  C.Build = [=](OnnxBuilder &G) {
    param(G, "a", A);
    param(G, "b", B);
    G.node("MatMul", {"a", "b"}, {"y"});
  };
  return C;
}

GradCase gemm(const char *Tag, int64_t TA, int64_t TB, std::vector<int64_t> CShape) {
  GradCase C;
  C.Name = std::string("Gemm ") + Tag;
  C.Build = [=](OnnxBuilder &G) {
    param(G, "a", TA ? std::vector<int64_t>{4, 3} : std::vector<int64_t>{3, 4});
    param(G, "b", TB ? std::vector<int64_t>{5, 4} : std::vector<int64_t>{4, 5});
    std::vector<std::string> In = {"a", "b"};
    if (!CShape.empty() || Tag == std::string("scalar bias")) {
      param(G, "c", CShape);
      In.push_back("c");
    }
    G.node("Gemm", In, {"y"},
           {{"transA", TA}, {"transB", TB}, {"alpha", 0.7f}, {"beta", 1.3f}});
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: MatMul", "[probe][grad]") {
  checkTable({
      matMul("2-D", {3, 4}, {4, 5}),
      matMul("rows x weight", {2, 3, 4}, {4, 5}),
      matMul("batched", {2, 3, 4}, {2, 4, 5}),
      matMul("weight batched", {3, 4}, {2, 4, 5}),
      matMul("broadcast batch", {2, 1, 3, 4}, {1, 3, 4, 5}),
      matMul("vector x matrix", {4}, {4, 5}),
      matMul("matrix x vector", {3, 4}, {4}),
      matMul("vector x batched", {4}, {2, 4, 5}),
  });
  GradCase Shared;
  Shared.Name = "MatMul x x^T-free shared operand";
  Shared.Build = [](OnnxBuilder &G) {
    param(G, "w", {4, 4});
    G.node("MatMul", {"w", "w"}, {"y"});
  };
  checkTable({Shared});
}

TEST_CASE("probe gradients: Gemm", "[probe][grad]") {
  checkTable({
      gemm("plain", 0, 0, {}),
      gemm("transA", 1, 0, {3, 5}),
      gemm("transB", 0, 1, {5}),
      gemm("both", 1, 1, {3, 1}),
      gemm("scalar bias", 0, 0, {}),
  });
}
