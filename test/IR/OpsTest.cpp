//===- OpsTest.cpp - the op table -----------------------------------------===//
#include "gradlint/IR/Ops.h"
#include <catch2/catch.hpp>
#include <set>
#include <string>

using namespace gradlint;

TEST_CASE("op lookup honours the domain", "[ir]") {
  CHECK(lookupOp("", "MatMul") == OpKind::MatMul);
  CHECK(lookupOp("ai.onnx", "MatMul") == OpKind::MatMul);
  CHECK(lookupOp("", "Attention") == OpKind::Attention);
  CHECK(lookupOp("com.microsoft", "Attention") == OpKind::MsAttention);
  CHECK(lookupOp("com.microsoft", "Gelu") == OpKind::MsGelu);
  CHECK(lookupOp("", "Gelu") == OpKind::Gelu);
  CHECK(lookupOp("com.microsoft", "MatMul") == OpKind::Unknown);
  CHECK(lookupOp("", "Loop") == OpKind::Unknown);
  CHECK(lookupOp("custom.domain", "Relu") == OpKind::Unknown);
  CHECK(lookupOp("com.microsoft", "SimplifiedLayerNormalization") ==
        OpKind::SimplifiedLayerNormalization);
}

TEST_CASE("every op kind round-trips through its name", "[ir]") {
  std::set<std::pair<int, std::string>> Seen;
  for (unsigned I = 0; I != NumOpKinds; ++I) {
    OpKind K = static_cast<OpKind>(I);
    llvm::StringRef Domain = domainOf(K) == OpDomain::Microsoft ? "com.microsoft" : "";
    INFO("op " << opTypeName(K).str());
    CHECK(lookupOp(Domain, opTypeName(K)) == K);
    CHECK(familyOf(K) != OpFamily::Unknown);
    CHECK(Seen.insert({static_cast<int>(domainOf(K)), opTypeName(K).str()}).second);
  }
  CHECK(familyOf(OpKind::Unknown) == OpFamily::Unknown);
}
