//===- ReferenceTest.cpp - loss choice and input domains (DESIGN §3) ------===//
#include "OnnxBuilder.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Reference/Reference.h"
#include "gradlint/Shape/ShapeInference.h"
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1, I64 = 7;

std::unique_ptr<Model> build(const OnnxBuilder &B) {
  std::string Dir = makeTempDir("ref");
  auto M = loadModel(B.writeTo(Dir + "/m.onnx"));
  std::system(("rm -rf '" + Dir + "'").c_str());
  REQUIRE(bool(M));
  auto S = inferShapes(**M, {});
  REQUIRE(bool(S));
  return std::move(*M);
}

/// ids -> Cast -> Gather(table [V, 8]) -> MatMul [8, Out].
OnnxBuilder lm(int64_t Vocab, int64_t Out) {
  OnnxBuilder B;
  B.input("ids", I64, {std::string("batch"), std::string("sequence")})
      .floatInit("table", {Vocab, 8}, std::vector<float>(Vocab * 8, 0.1f))
      .floatInit("head", {8, Out}, std::vector<float>(8 * Out, 0.1f))
      .node("Cast", {"ids"}, {"ids32"}, {{"to", int64_t(6)}})
      .node("Gather", {"table", "ids32"}, {"h"})
      .node("MatMul", {"h", "head"}, {"logits"})
      .output("logits");
  return B;
}
} // namespace

TEST_CASE("token ids into a table and a vocabulary-wide output choose ce",
          "[reference]") {
  auto M = build(lm(50, 50));
  auto R = referenceSetup(*M);
  REQUIRE(bool(R));
  CHECK(R->Loss == LossKind::CrossEntropy);
  CHECK(R->Vocab == 50);
  CHECK(R->Rows == 128); // batch 1 x sequence 128
  REQUIRE(R->Inputs.size() == 1);
  CHECK(R->Inputs[0].TokenIds);
  CHECK(R->Inputs[0].Range == 50); // found through the Cast
}

TEST_CASE("an output narrower than the table, or float inputs, choose projection",
          "[reference]") {
  auto Narrow = build(lm(50, 16));
  auto R = referenceSetup(*Narrow);
  REQUIRE(bool(R));
  CHECK(R->Loss == LossKind::Projection);

  OnnxBuilder B;
  B.input("x", F32, {int64_t(4), int64_t(8)})
      .floatInit("w", {8, 8}, std::vector<float>(64, 0.1f))
      .node("MatMul", {"x", "w"}, {"y"})
      .output("y");
  auto Float = build(B);
  auto P = referenceSetup(*Float);
  REQUIRE(bool(P));
  CHECK(P->Loss == LossKind::Projection);
  CHECK(P->Rows == 4);
  CHECK(!P->Inputs[0].TokenIds);
  LossKind Forced = LossKind::CrossEntropy;
  auto F = referenceSetup(*Float, &Forced);
  REQUIRE(bool(F));
  CHECK(F->Loss == LossKind::CrossEntropy);
}

TEST_CASE("loss names parse and print", "[reference]") {
  CHECK(lossName(LossKind::CrossEntropy) == "ce");
  auto P = parseLossName("projection");
  REQUIRE(bool(P));
  CHECK(*P == LossKind::Projection);
  auto Bad = parseLossName("mse");
  REQUIRE(!Bad);
  CHECK(llvm::toString(Bad.takeError()).find("ce or projection") != std::string::npos);
}

TEST_CASE("random streams are independent per purpose and seed", "[reference]") {
  Rng A = streamRng(1, Stream::Inputs), B = streamRng(1, Stream::Targets),
      C = streamRng(2, Stream::Inputs), D = streamRng(1, Stream::Inputs);
  uint64_t X = A.next();
  CHECK(X != B.next());
  CHECK(X != C.next());
  CHECK(X == D.next());
}
