//===- NegativeTest.cpp - graphs that are not transformers ----------------===//
//
// A plain MLP, a softmax classifier and the ONNX node tests for Gemm,
// MatMul, Conv and Softmax: no blocks, no attention; every node listed as
// unassigned rather than dropped.
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include "TestPaths.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("structure: a plain MLP has no blocks", "[structure][negative]") {
  // x ─▶ W1 ─▶ Relu ─▶ W2 ─▶ Gelu ─▶ W3 ─▶ Softmax: feed-forward shaped, but
  // no attention, so no transformer block.
  OnnxBuilder B(17);
  B.input("x", F32, {int64_t(4), int64_t(16)});
  std::string H = addLinear(B, "x", "l1", 16, 32);
  B.node("Relu", {H}, {"a1"});
  H = addLinear(B, "a1", "l2", 32, 32);
  B.node("Gelu", {H}, {"a2"});
  H = addLinear(B, "a2", "l3", 32, 10);
  B.node("Softmax", {H}, {"p"}, {{"axis", int64_t(-1)}});
  B.output("p");
  Recovered R = recoverBuilt(B);
  CHECK(R.S.Blocks.empty());
  CHECK(R.S.Head == NoId);
  CHECK(R.S.Unassigned.size() == R.g().Nodes.size());
  CHECK(R.S.blockOf(0) == -1);
  CHECK(R.S.roleOf(*R.M, "l1.weight").Kind.empty());
}

TEST_CASE("structure: a softmax over two activations without P·V is no "
          "attention",
          "[structure][negative]") {
  OnnxBuilder B(17);
  B.input("a", F32, {int64_t(2), int64_t(8), int64_t(16)});
  B.input("b", F32, {int64_t(2), int64_t(16), int64_t(8)});
  B.node("MatMul", {"a", "b"}, {"s"})
      .node("Softmax", {"s"}, {"p"}, {{"axis", int64_t(-1)}})
      .output("p");
  Recovered R = recoverBuilt(B);
  CHECK(R.S.Blocks.empty());
}

TEST_CASE("structure: ONNX node tests of non-transformer ops yield no blocks",
          "[structure][negative][node-tests]") {
  std::string Dir = nodeTestsDir();
  if (!pathExists(Dir))
    GRADLINT_SKIP("onnx node tests not found at " << Dir);
  unsigned Seen = 0;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC)) {
    llvm::StringRef Name = llvm::sys::path::filename(It->path());
    if (!Name.startswith("test_gemm") && !Name.startswith("test_matmul") &&
        !Name.startswith("test_conv") && !Name.startswith("test_softmax") &&
        !Name.startswith("test_layer_normalization") &&
        !Name.startswith("test_gelu") && !Name.startswith("test_relu"))
      continue;
    INFO(Name.str());
    Recovered R = recoverFile(It->path() + "/model.onnx");
    ++Seen;
    CHECK(R.S.Blocks.empty());
    CHECK(R.S.Head == NoId);
    CHECK(R.S.Unassigned.size() + R.S.Prologue.size() == R.g().Nodes.size());
  }
  CHECK(Seen >= 20);
}
