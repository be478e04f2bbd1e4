//===- MaskTest.cpp - what an attention mask hides ------------------------===//
//
// Folded masks are read; masks too large to fold are judged by what they
// are computed from (a triangular buffer, Trilu, a graph input).
//
//===----------------------------------------------------------------------===//
#include "StructureTestUtil.h"
#include "Structure/Match.h"
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

namespace {

MaskKind maskOf(const Recovered &R, const std::string &Name, bool Boolean = false,
                bool HiddenWhen = false) {
  return structure::classifyMask(R.g(), R.value(Name), Boolean, HiddenWhen);
}

std::vector<float> additive(int64_t Rows, int64_t Cols, int64_t Offset) {
  std::vector<float> M(Rows * Cols);
  for (int64_t I = 0; I < Rows; ++I)
    for (int64_t J = 0; J < Cols; ++J)
      M[I * Cols + J] = J > I + Offset ? -1e9f : 0.0f;
  return M;
}

} // namespace

TEST_CASE("structure: folded masks are read", "[structure][mask]") {
  OnnxBuilder B(17);
  B.input("x", F32, {int64_t(1)});
  B.floatInit("causal", {1, 1, 4, 4}, additive(4, 4, 0));
  B.floatInit("decode", {2, 5}, additive(2, 5, 3)); // 2 new tokens after 3 cached
  B.floatInit("zeros", {4, 4}, std::vector<float>(16, 0.0f));
  std::vector<float> Band(16, 0.0f);
  Band[3] = -1e9f; // hides one entry: neither causal nor empty
  B.floatInit("band", {4, 4}, Band);
  std::string Keep;
  for (int I = 0; I < 4; ++I)
    for (int J = 0; J < 4; ++J)
      Keep.push_back(J <= I ? 1 : 0);
  B.rawInit("keep", Bool, {4, 4}, Keep);
  B.node("Identity", {"x"}, {"y"}).output("y");
  Recovered R = recoverBuilt(B);
  CHECK(maskOf(R, "causal") == MaskKind::Causal);
  CHECK(maskOf(R, "decode") == MaskKind::Causal);
  CHECK(maskOf(R, "zeros") == MaskKind::None);
  CHECK(maskOf(R, "band") == MaskKind::Other);
  // A boolean mask that is true where attention is allowed.
  CHECK(maskOf(R, "keep", true, false) == MaskKind::Causal);
  CHECK(maskOf(R, "keep", true, true) == MaskKind::Other);
}

TEST_CASE("structure: masks too large to fold are judged by their sources",
          "[structure][mask]") {
  // seq = 400: a [400, 400] mask is past the folding limit.
  OnnxBuilder B(17);
  B.input("x", F32, {int64_t(1), std::string("seq"), int64_t(4)});
  B.input("attention_mask", I64, {int64_t(1), std::string("seq")});
  // GPT-2's buffer: a [1, 1, 512, 512] triangle of ones sliced to [seq, seq].
  std::string Tri;
  for (int I = 0; I < 512; ++I)
    for (int J = 0; J < 512; ++J)
      Tri.push_back(J <= I ? 1 : 0);
  B.rawInit("bias", Bool, {1, 1, 512, 512}, Tri);
  B.node("Shape", {"x"}, {"shape"})
      .int64Init("one", {1}, {1})
      .int64Init("two", {1}, {2})
      .node("Slice", {"shape", "one", "two"}, {"t"})
      .int64Init("zero", {1}, {0})
      .int64Init("axes", {2}, {2, 3})
      .node("Concat", {"t", "t"}, {"tt"}, {{"axis", int64_t(0)}})
      .int64Init("starts", {2}, {0, 0})
      .node("Slice", {"bias", "starts", "tt", "axes"}, {"sliced"})
      .constantFloat("onef", {}, {1.0f})
      .node("Expand", {"onef", "tt"}, {"ones"})
      .node("Trilu", {"ones"}, {"tril"}, {{"upper", int64_t(0)}})
      .node("Sub", {"onef", "tril"}, {"above"})
      .constantFloat("big", {}, {-1e9f})
      .node("Mul", {"above", "big"}, {"additive"})
      .node("Cast", {"attention_mask"}, {"amf"}, {{"to", int64_t(F32)}})
      .node("Sub", {"onef", "amf"}, {"padding"})
      .node("Identity", {"x"}, {"y"})
      .output("y");
  Recovered R = recoverBuilt(B, {{"seq", 400}});
  CHECK(!R.g().Values[R.value("additive")].Const);
  CHECK(maskOf(R, "sliced", true, false) == MaskKind::Causal);
  CHECK(maskOf(R, "additive") == MaskKind::Causal);
  CHECK(maskOf(R, "padding") == MaskKind::Padding);
}
