//===- LoaderTest.cpp - what valid models load as -------------------------===//
#include "OnnxBuilder.h"
#include "gradlint/Loader/Loader.h"
#include <catch2/catch.hpp>
#include <cstring>
#include <sys/stat.h>

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1, F16 = 10;

struct TempDir {
  std::string Path = makeTempDir("load");
  ~TempDir() { std::system(("rm -rf '" + Path + "'").c_str()); }
  std::string file(const std::string &Name) const { return Path + "/" + Name; }
};

std::unique_ptr<Model> load(const std::string &Path) {
  auto M = loadModel(Path);
  if (!M)
    FAIL(llvm::toString(M.takeError()));
  return std::move(*M);
}

std::string floatBytes(std::vector<float> V) {
  return std::string(reinterpret_cast<const char *>(V.data()), V.size() * 4);
}
} // namespace

TEST_CASE("initializers in raw and typed fields read the same values",
          "[loader]") {
  TempDir D;
  OnnxBuilder B;
  B.input("x", F32, {int64_t(3)})
      .floatInit("raw", {3}, {1.5f, -2.0f, 3.25f})
      .typedFloatInit("typed", {3}, {1.5f, -2.0f, 3.25f})
      .node("Add", {"x", "raw"}, {"y"})
      .node("Add", {"y", "typed"}, {"z"})
      .output("z");
  auto M = load(B.writeTo(D.file("m.onnx")));
  const Graph &G = M->G;
  for (const char *Name : {"raw", "typed"}) {
    const TensorData *T = G.initializer(G.findValue(Name));
    REQUIRE(T);
    std::vector<double> V;
    REQUIRE(T->toDoubles(V));
    CHECK(V == std::vector<double>{1.5, -2.0, 3.25});
  }
  CHECK(G.Inputs.size() == 1);
  CHECK(G.Initializers.size() == 2);
  CHECK(G.Order.size() == 2);
  CHECK(M->Info.onnxOpset() == 17);
  CHECK(M->Info.Producer == "gradlint-test");
}

TEST_CASE("float16 and bfloat16 decode exactly", "[loader]") {
  CHECK(halfToFloat(0x3c00) == 1.0f);
  CHECK(halfToFloat(0xc000) == -2.0f);
  CHECK(halfToFloat(0x7bff) == 65504.0f);
  CHECK(halfToFloat(0x0001) == std::ldexp(1.0f, -24)); // smallest subnormal
  CHECK(halfToFloat(0x0400) == std::ldexp(1.0f, -14)); // smallest normal
  CHECK(std::isinf(halfToFloat(0x7c00)));
  CHECK(bfloat16ToFloat(0x3f80) == 1.0f);
  CHECK(bfloat16ToFloat(0xc040) == -3.0f);

  TempDir D;
  uint16_t Halves[] = {0x3c00, 0xc000};
  OnnxBuilder B;
  B.input("x", F16, {int64_t(2)})
      .rawInit("h", F16, {2}, std::string(reinterpret_cast<char *>(Halves), 4))
      .node("Add", {"x", "h"}, {"y"})
      .output("y", F16);
  auto M = load(B.writeTo(D.file("m.onnx")));
  std::vector<float> V;
  REQUIRE(M->G.initializer(M->G.findValue("h"))->toFloats(V));
  CHECK(V == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("external data is read from inside the model directory", "[loader]") {
  TempDir D;
  // Two tensors in one file: a at offset 0, b at offset 16 (after 4 pad bytes).
  std::string Bytes = floatBytes({1, 2, 3}) + std::string(4, '\0') +
                      floatBytes({4, 5});
  REQUIRE(mkdir(D.file("weights").c_str(), 0700) == 0);
  writeFile(D.file("weights/w.bin"), Bytes);
  OnnxBuilder B;
  B.input("x", F32, {int64_t(3)})
      .externalInit("a", F32, {3}, "weights/w.bin", "0", "12")
      .externalInit("b", F32, {2}, "weights/../weights/./w.bin", "16")
      .node("Add", {"x", "a"}, {"y"})
      .output("y")
      .node("Relu", {"b"}, {"z"})
      .output("z");
  auto M = load(B.writeTo(D.file("m.onnx")));
  std::vector<double> A, Bv;
  REQUIRE(M->G.initializer(M->G.findValue("a"))->toDoubles(A));
  REQUIRE(M->G.initializer(M->G.findValue("b"))->toDoubles(Bv));
  CHECK(A == std::vector<double>{1, 2, 3});
  CHECK(Bv == std::vector<double>{4, 5});
  CHECK(M->Info.ExternalBytes == 20);
  CHECK(M->G.initializer(M->G.findValue("a"))->External);
}

TEST_CASE("resolveExternalPath refuses every way out", "[loader]") {
  TempDir D;
  writeFile(D.file("ok.bin"), "x");
  CHECK(bool(resolveExternalPath(D.Path, "ok.bin")));
  CHECK(bool(resolveExternalPath(D.Path, "./ok.bin")));
  for (const char *Bad : {"", "/etc/passwd", "..", "../x", "a/../../x",
                          "C:\\Windows\\system.ini", "nothere.bin"}) {
    INFO("location: " << Bad);
    auto R = resolveExternalPath(D.Path, Bad);
    CHECK(!R);
    if (!R)
      llvm::consumeError(R.takeError());
  }
}

TEST_CASE("IR 3 models list initializers among inputs; they are not inputs",
          "[loader]") {
  TempDir D;
  OnnxBuilder B(/*Opset=*/8, /*IrVersion=*/3);
  B.input("x", F32, {int64_t(2)})
      .input("w", F32, {int64_t(2)})
      .floatInit("w", {2}, {1, 2})
      .node("Add", {"x", "w"}, {"y"})
      .output("y");
  auto M = load(B.writeTo(D.file("m.onnx")));
  REQUIRE(M->G.Inputs.size() == 1);
  CHECK(M->G.Values[M->G.Inputs[0]].Name == "x");
}

TEST_CASE("anonymous nodes get stable names; optional inputs stay absent",
          "[loader]") {
  TempDir D;
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2), int64_t(3)})
      .node("Relu", {"x"}, {"y"}, {}, "", "")
      .output("y");
  // The builder names nodes; write one without a name through Clip's
  // optional inputs instead.
  B.node("Clip", {"y", "", ""}, {"z"}).output("z");
  auto M = load(B.writeTo(D.file("m.onnx")));
  const Node &Clip = M->G.Nodes[1];
  CHECK(Clip.Inputs.size() == 3);
  CHECK(Clip.Inputs[1] == NoId);
  CHECK(Clip.Inputs[2] == NoId);
  CHECK(!Clip.Name.empty());
}

TEST_CASE("tensor files load with dims and values", "[loader]") {
  TempDir D;
  writeFile(D.file("t.pb"), serializeFloatTensor("t", {2, 2}, {1, 2, 3, 4}));
  auto T = loadTensorFile(D.file("t.pb"));
  REQUIRE(bool(T));
  CHECK(T->Tensor.Name == "t");
  CHECK(T->Tensor.Shape == Dims{2, 2});
  std::vector<double> V;
  REQUIRE(T->Tensor.toDoubles(V));
  CHECK(V == std::vector<double>{1, 2, 3, 4});
}
