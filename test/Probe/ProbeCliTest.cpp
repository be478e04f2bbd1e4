//===- ProbeCliTest.cpp - `gradlint probe`: output, determinism, errors ---===//
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "llvm/Support/JSON.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
Run probe(const std::string &Args) { return runGradlint("probe " + Args); }

const std::string TinyGpt = std::string(GRADLINT_SOURCE_DIR) + "/examples/tiny-gpt.onnx";
const std::string Dims = " --dim batch=2 --dim sequence=8";

bool oneErrorLine(const Run &R) {
  return R.Code == 2 && R.Err.rfind("gradlint: error: ", 0) == 0 &&
         R.Err.find('\n') == R.Err.size() - 1;
}

struct TempDir {
  std::string Path = makeTempDir("probe-cli");
  ~TempDir() { std::system(("rm -rf '" + Path + "'").c_str()); }
};
} // namespace

TEST_CASE("probe cli: json follows gradlint.probe/1", "[probe][cli]") {
  Run R = probe(TinyGpt + Dims + " --format json --steps 2 --optimizer adam");
  REQUIRE(R.Code == 0);
  CHECK(R.Err.empty()); // no progress line when stderr is not a terminal
  auto V = llvm::json::parse(R.Out);
  REQUIRE(bool(V));
  const llvm::json::Object &O = *V->getAsObject();
  CHECK(O.getString("schema") == llvm::StringRef("gradlint.probe/1"));
  CHECK(O.getObject("loss")->getString("kind") == llvm::StringRef("ce"));
  double Loss = *O.getObject("loss")->getNumber("value");
  CHECK(Loss > 3.5);
  CHECK(Loss < 5.0); // ~ ln 64 at initialization
  CHECK(*O.getObject("model")->getObject("dims")->getInteger("sequence") == 8);
  const llvm::json::Array &P = *O.getArray("parameters");
  REQUIRE(P.size() > 10);
  std::string Prev;
  bool Sorted = true, SubParams = false;
  for (const llvm::json::Value &X : P) {
    std::string Name = X.getAsObject()->getString("name")->str();
    Sorted &= Prev < Name;
    Prev = Name;
    SubParams |= Name.find("[q]") != std::string::npos;
    CHECK(*X.getAsObject()->getNumber("grad_norm") > 0);
    CHECK(X.getAsObject()->getArray("shape"));
  }
  CHECK(Sorted);
  CHECK(SubParams);
  const llvm::json::Array &Steps = *O.getArray("steps");
  REQUIRE(Steps.size() == 2);
  CHECK(*Steps[0].getAsObject()->getInteger("step") == 1);
  CHECK(Steps[0].getAsObject()->getObject("update_ratio")->size() > 10);
  CHECK(*O.getObject("memory")->getInteger("peak_bytes") > 0);
}

TEST_CASE("probe cli: the same seed gives byte-identical output", "[probe][cli]") {
  std::string Args = TinyGpt + Dims + " --format json --steps 3 --optimizer sgd --lr 0.1";
  Run A = probe(Args), B = probe(Args), C = probe(Args + " --seed 7");
  REQUIRE(A.Code == 0);
  CHECK(A.Out == B.Out);
  CHECK(A.Out != C.Out);
  Run Text = probe(TinyGpt + Dims);
  REQUIRE(Text.Code == 0);
  CHECK(Text.Out.find("loss     ce") != std::string::npos);
  CHECK(Text.Out.find("grad norm") != std::string::npos);
  CHECK(Text.Out.find("memory   peak") != std::string::npos);
}

TEST_CASE("probe cli: inputs and targets from files", "[probe][cli]") {
  TempDir D;
  // An MLP with a float input: projection loss, r from --targets.
  OnnxBuilder B;
  B.input("x", 1, {int64_t(2), int64_t(3)})
      .floatInit("w", {3, 4}, std::vector<float>(12, 0.5f))
      .node("MatMul", {"x", "w"}, {"y"})
      .output("y");
  std::string Model = B.writeTo(D.Path + "/mlp.onnx");
  writeFile(D.Path + "/x.pb", serializeFloatTensor("x", {2, 3}, {1, 2, 3, 4, 5, 6}));
  writeFile(D.Path + "/r.pb", serializeFloatTensor("r", {2, 4}, std::vector<float>(8, 1.0f)));
  Run R = probe(Model + " --input x=" + D.Path + "/x.pb --targets " + D.Path +
                "/r.pb --format json");
  REQUIRE(R.Code == 0);
  auto V = llvm::json::parse(R.Out);
  REQUIRE(bool(V));
  // L = (1/2) Σ r·(x w) = (1/2)·4·0.5·(1+…+6) = 21; dL/dw[i][j] = (1/2) Σ_n x[n][i].
  CHECK(std::fabs(*V->getAsObject()->getObject("loss")->getNumber("value") - 21) < 1e-5);
  double G = *(*V->getAsObject()->getArray("parameters"))[0].getAsObject()->getNumber("grad_norm");
  CHECK(std::fabs(G - std::sqrt(4 * (2.5 * 2.5 + 3.5 * 3.5 + 4.5 * 4.5))) < 1e-5);

  SECTION("bad --input name") {
    Run E = probe(Model + " --input nope=" + D.Path + "/x.pb");
    CHECK(oneErrorLine(E));
    CHECK(E.Err.find("no input named 'nope'") != std::string::npos);
  }
  SECTION("shape mismatch of a given input") {
    writeFile(D.Path + "/bad.pb", serializeFloatTensor("x", {3, 3}, std::vector<float>(9, 1)));
    Run E = probe(Model + " --input x=" + D.Path + "/bad.pb");
    CHECK(oneErrorLine(E));
    CHECK(E.Err.find("[3, 3]") != std::string::npos);
  }
  SECTION("targets of the wrong size") {
    Run E = probe(Model + " --targets " + D.Path + "/x.pb");
    CHECK(oneErrorLine(E));
  }
  SECTION("unreadable input file") {
    Run E = probe(Model + " --input x=" + D.Path + "/missing.pb");
    CHECK(oneErrorLine(E));
  }
}

TEST_CASE("probe cli: usage errors exit 2 with one line", "[probe][cli]") {
  for (const char *Args : {"", " --device tpu", " --optimizer rmsprop", " --lr -1",
                           " --loss mse", " --format yaml", " --dim batch=x"}) {
    INFO("args: " << Args);
    Run R = probe(std::string(*Args ? TinyGpt + Dims : "") + Args);
    CHECK(oneErrorLine(R));
  }
  // Without the plugin (or without a GPU for it) --device cuda is exit 2 and
  // one line that says so; where a GPU works, the run succeeds instead.
  Run Cuda = probe(TinyGpt + Dims + " --device cuda");
  if (Cuda.Code != 0) {
    CHECK(oneErrorLine(Cuda));
    CHECK(Cuda.Err.find("CUDA plugin") != std::string::npos);
  }
}

TEST_CASE("probe cli: a projection r larger than memory is an error", "[probe][cli]") {
  // y = Expand(x) is [65536, 2^20] (2^36 elements, within the shape limit):
  // the projection loss's r of that shape is drawn in host memory.
  TempDir D;
  std::string P = D.Path + "/expand.onnx";
  OnnxBuilder B;
  B.input("x", 1, {int64_t(65536), int64_t(1)})
      .constantInt64("shape", {2}, {65536, int64_t(1) << 20})
      .node("Expand", {"x", "shape"}, {"y"})
      .output("y")
      .writeTo(P);
  Run R = probe(P);
  CHECK(oneErrorLine(R));
  CHECK(R.Err.find(P + ": the projection r needs about 512 GiB to draw") != std::string::npos);
}
