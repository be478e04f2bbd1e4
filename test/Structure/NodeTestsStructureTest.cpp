//===- NodeTestsStructureTest.cpp - ONNX Attention, fused and expanded ----===//
//
// The ONNX node tests hold each opset-23 Attention test twice: the fused op
// and its function body expanded into MatMul/Softmax/masks. Both must give
// the same heads, head dim, effective scale, softcap and mask — the fused
// op's attributes are the oracle for the unfused patterns (√scale on Q and
// Kᵀ, Range/Less causal masks, GQA Expand, softcap Tanh).
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include "TestPaths.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("structure: expanded ONNX Attention matches the fused op",
          "[structure][attention][node-tests]") {
  std::string Dir = nodeTestsDir();
  if (!pathExists(Dir))
    GRADLINT_SKIP("onnx node tests not found at " << Dir);
  unsigned Compared = 0;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC)) {
    llvm::StringRef Name = llvm::sys::path::filename(It->path());
    if (!Name.startswith("test_attention_") || !Name.endswith("_expanded"))
      continue;
    std::string Fused = Dir + "/" + Name.drop_back(strlen("_expanded")).str();
    if (!pathExists(Fused + "/model.onnx"))
      continue;
    INFO(Name.str());
    Recovered F = recoverFile(Fused + "/model.onnx");
    Recovered E = recoverFile(It->path() + "/model.onnx");
    REQUIRE(F.S.Blocks.size() == 1);
    REQUIRE(E.S.Blocks.size() == 1);
    const AttentionInfo &A = *F.S.Blocks[0].Attention, &B = *E.S.Blocks[0].Attention;
    CHECK(A.Fused != NoId);
    CHECK(B.Fused == NoId);
    CHECK(B.Softmax != NoId);
    CHECK(A.Heads == B.Heads);
    CHECK(A.KvHeads == B.KvHeads);
    CHECK(A.HeadDim == B.HeadDim);
    CHECK(B.ScaleKnown);
    CHECK(A.Scale == Approx(B.Scale).epsilon(1e-6));
    CHECK(A.Softcap == Approx(B.Softcap).epsilon(1e-6));
    CHECK(maskKindName(A.Mask) == maskKindName(B.Mask));
    ++Compared;
  }
  CHECK(Compared >= 40);
}
