//===- ShapeRulesTest.cpp - shapes and folding on exporter patterns -------===//
#include "OnnxBuilder.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Shape/ShapeInference.h"
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1, I64 = 7;

struct Loaded {
  std::unique_ptr<Model> M;
  ShapeReport R;
  const Value &v(const char *Name) const {
    ValueId Id = M->G.findValue(Name);
    REQUIRE(Id != NoId);
    return M->G.Values[Id];
  }
};

Loaded inferOk(const OnnxBuilder &B, DimBindings Dims = {}) {
  std::string Dir = makeTempDir("shape");
  auto M = loadModel(B.writeTo(Dir + "/m.onnx"));
  std::system(("rm -rf '" + Dir + "'").c_str());
  if (!M)
    FAIL(llvm::toString(M.takeError()));
  auto R = inferShapes(**M, Dims);
  if (!R)
    FAIL(llvm::toString(R.takeError()));
  return {std::move(*M), *R};
}
} // namespace

TEST_CASE("torch's dynamic reshape chain folds to a concrete shape",
          "[shape]") {
  // x: [batch, sequence, 64] -> Shape -> Gather(0), Gather(1) -> Unsqueeze ->
  // Concat with [4, 16] -> Reshape: the head split of an attention layer.
  OnnxBuilder B(14);
  B.input("x", F32, {std::string("batch"), std::string("sequence"), int64_t(64)})
      .node("Shape", {"x"}, {"s"})
      .constantInt64("i0", {}, {0})
      .constantInt64("i1", {}, {1})
      .node("Gather", {"s", "i0"}, {"b"}, {{"axis", int64_t(0)}})
      .node("Gather", {"s", "i1"}, {"t"}, {{"axis", int64_t(0)}})
      .constantInt64("ax", {1}, {0})
      .node("Unsqueeze", {"b", "ax"}, {"bu"})
      .node("Unsqueeze", {"t", "ax"}, {"tu"})
      .constantInt64("heads", {2}, {4, 16})
      .node("Concat", {"bu", "tu", "heads"}, {"shape"}, {{"axis", int64_t(0)}})
      .node("Reshape", {"x", "shape"}, {"y"})
      .node("Transpose", {"y"}, {"yt"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
      .output("yt");
  Loaded L = inferOk(B, {{"batch", 3}});
  CHECK(L.R.Dims.at("batch") == 3);
  CHECK(L.R.Dims.at("sequence") == 128); // DESIGN §3 default
  CHECK(L.R.Defaulted == std::vector<std::string>{"sequence"});
  REQUIRE(L.v("shape").Const);
  CHECK(L.v("shape").Const->Ints == std::vector<int64_t>{3, 128, 4, 16});
  CHECK(L.v("yt").Shape == Dims{3, 4, 128, 16});
  CHECK(L.R.Unknown.empty());
}

TEST_CASE("attention scale from Shape -> Cast -> Sqrt folds to a number",
          "[shape]") {
  // torch exports 1/sqrt(d_head) as Sqrt(Cast(Gather(Shape(q), -1))).
  OnnxBuilder B(17);
  B.input("q", F32, {int64_t(1), int64_t(2), int64_t(8), int64_t(16)})
      .node("Shape", {"q"}, {"s"})
      .constantInt64("last", {}, {-1})
      .node("Gather", {"s", "last"}, {"d"})
      .node("Cast", {"d"}, {"df"}, {{"to", int64_t(F32)}})
      .node("Sqrt", {"df"}, {"sd"})
      .constantFloat("one", {}, {1.0f})
      .node("Div", {"one", "sd"}, {"scale"})
      .node("Mul", {"q", "scale"}, {"qs"})
      .output("qs");
  Loaded L = inferOk(B);
  REQUIRE(L.v("scale").Const);
  CHECK(L.v("scale").Const->Reals[0] == Approx(0.25).epsilon(1e-12));
  CHECK(L.v("qs").Shape == Dims{1, 2, 8, 16});
}

TEST_CASE("causal mask from Trilu over ConstantOfShape keeps its shape",
          "[shape]") {
  OnnxBuilder B(17);
  B.input("x", F32, {int64_t(1), std::string("seq"), int64_t(8)})
      .node("Shape", {"x"}, {"s"})
      .constantInt64("start", {1}, {1})
      .constantInt64("end", {1}, {2})
      .node("Slice", {"s", "start", "end"}, {"t"})
      .node("Concat", {"t", "t"}, {"tt"}, {{"axis", int64_t(0)}})
      .node("ConstantOfShape", {"tt"}, {"ones"})
      .node("Trilu", {"ones"}, {"mask"}, {{"upper", int64_t(0)}})
      .output("mask");
  Loaded L = inferOk(B, {{"seq", 300}});
  CHECK(L.v("tt").Const->Ints == std::vector<int64_t>{300, 300});
  CHECK(L.v("mask").Shape == Dims{300, 300});
  CHECK(!L.v("ones").Const); // 90000 elements: shape only, not folded
}

TEST_CASE("split, slice with negative steps, reductions and gemm", "[shape]") {
  OnnxBuilder B(13);
  B.input("x", F32, {int64_t(2), int64_t(5), int64_t(12)})
      .int64Init("sizes", {3}, {4, 4, 4})
      .node("Split", {"x", "sizes"}, {"q", "k", "v"}, {{"axis", int64_t(-1)}})
      .int64Init("st", {1}, {-1})
      .int64Init("en", {1}, {-100})
      .int64Init("ax", {1}, {1})
      .int64Init("sp", {1}, {-2})
      .node("Slice", {"q", "st", "en", "ax", "sp"}, {"qs"})
      .node("ReduceMean", {"k"}, {"km"}, {{"axes", std::vector<int64_t>{-1}}})
      .int64Init("rs", {1}, {1})
      .node("ReduceSum", {"v", "rs"}, {"vs"}, {{"keepdims", int64_t(0)}})
      .input("a", F32, {int64_t(3), int64_t(7)})
      .floatInit("w", {5, 7}, std::vector<float>(35, 0))
      .node("Gemm", {"a", "w"}, {"g"}, {{"transB", int64_t(1)}})
      .output("qs").output("km").output("vs").output("g");
  Loaded L = inferOk(B);
  CHECK(L.v("q").Shape == Dims{2, 5, 4});
  CHECK(L.v("qs").Shape == Dims{2, 3, 4}); // indices 4, 2, 0
  CHECK(L.v("km").Shape == Dims{2, 5, 1});
  CHECK(L.v("vs").Shape == Dims{2, 4});
  CHECK(L.v("g").Shape == Dims{3, 5});
}

TEST_CASE("contrib and opset-23 attention ops get shapes", "[shape]") {
  OnnxBuilder B(23, 10);
  B.opset("com.microsoft", 1)
      .input("x", F32, {int64_t(2), int64_t(6), int64_t(32)})
      .floatInit("w", {32, 96}, std::vector<float>(32 * 96, 0))
      .floatInit("bias", {96}, std::vector<float>(96, 0))
      .node("Attention", {"x", "w", "bias"}, {"ms"}, {{"num_heads", int64_t(4)}},
            "com.microsoft")
      .node("Attention", {"x", "x", "x"}, {"y"},
            {{"q_num_heads", int64_t(4)}, {"kv_num_heads", int64_t(4)}})
      .floatInit("gamma", {32}, std::vector<float>(32, 1))
      .node("RMSNormalization", {"y", "gamma"}, {"n"})
      .node("SkipLayerNormalization", {"x", "ms", "gamma", "gamma"}, {"sk"}, {},
            "com.microsoft")
      .output("n").output("sk");
  Loaded L = inferOk(B);
  CHECK(L.v("ms").Shape == Dims{2, 6, 32});
  CHECK(L.v("y").Shape == Dims{2, 6, 32});
  CHECK(L.v("n").Shape == Dims{2, 6, 32});
  CHECK(L.v("sk").Shape == Dims{2, 6, 32});
}

TEST_CASE("unknown ops take the model's value_info; others stay listed",
          "[shape]") {
  OnnxBuilder B(17);
  B.input("x", F32, {std::string("batch"), int64_t(4)})
      .node("MyOp", {"x"}, {"y"}, {}, "custom")
      .node("MyOp", {"y"}, {"z"}, {}, "custom")
      .valueInfo("y", F32, {std::string("batch"), int64_t(8)})
      .opset("custom", 1)
      .output("z");
  Loaded L = inferOk(B);
  CHECK(L.v("y").Shape == Dims{1, 8});
  CHECK(!L.v("z").HasShape);
  REQUIRE(L.R.Unknown.size() == 1);
  CHECK(L.M->G.Values[L.R.Unknown[0]].Name == "z");
}
