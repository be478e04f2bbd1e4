//===- CliTest.cpp - the command line contract (DESIGN §6) ----------------===//
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "llvm/Support/JSON.h"
#include <catch2/catch.hpp>
#include <fstream>

using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1;


struct Fixture {
  std::string Dir = makeTempDir("cli");
  std::string Model = Dir + "/mlp.onnx";
  Fixture() {
    OnnxBuilder B;
    B.producer("cli-test")
        .input("x", F32, {std::string("batch"), int64_t(16)})
        .floatInit("w1", {16, 32}, std::vector<float>(512, 0.1f))
        .floatInit("w2", {32, 4}, std::vector<float>(128, 0.1f))
        .node("MatMul", {"x", "w1"}, {"h"})
        .node("Relu", {"h"}, {"a"})
        .node("MatMul", {"a", "w2"}, {"y"})
        .output("y")
        .writeTo(Model);
  }
  ~Fixture() { std::system(("rm -rf '" + Dir + "'").c_str()); }
};
} // namespace

TEST_CASE("cli: --help names the commands and exits 0", "[cli]") {
  Run R = runGradlint("--help");
  CHECK(R.Code == 0);
  CHECK(R.Out.find("inspect") != std::string::npos);
}

TEST_CASE("cli: --version prints the version", "[cli]") {
  Run R = runGradlint("--version");
  CHECK(R.Code == 0);
  CHECK(R.Out.find("gradlint 0.") != std::string::npos);
}

TEST_CASE("cli: usage errors exit 2 with one line", "[cli]") {
  for (const char *Args : {"", "frobnicate", "inspect", "inspect --bogus x.onnx",
                           "inspect --format yaml /nonexistent.onnx"}) {
    INFO("args: " << Args);
    Run R = runGradlint(Args);
    CHECK(R.Code == 2);
    CHECK(R.Err.rfind("gradlint: error: ", 0) == 0);
    CHECK(R.Err.find('\n') == R.Err.size() - 1);
  }
}

TEST_CASE("cli: a bad --dim is a usage error naming the flag", "[cli]") {
  Fixture F;
  Run R = runGradlint("inspect " + F.Model + " --dim batch=zero");
  CHECK(R.Code == 2);
  CHECK(R.Err.find("--dim expects NAME=VALUE") != std::string::npos);
}

TEST_CASE("cli: validate's --seeds is bounded, and up to 4096", "[cli]") {
  Fixture F;
  for (const char *Seeds : {"0", "4097"}) {
    INFO("--seeds " << Seeds);
    Run R = runGradlint("validate --seeds " + std::string(Seeds) + " " + F.Model);
    CHECK(R.Code == 2);
    CHECK(R.Err.find("--seeds must be between 1 and 4096") != std::string::npos);
  }
  // Heavy-tailed models need more than the old cap of 64 (docs/analysis.md).
  Run R = runGradlint("validate --seeds 65 --format json " + F.Model);
  CHECK(R.Code == 0);
  CHECK(R.Out.find("\"seeds\": 65") != std::string::npos);
}

TEST_CASE("cli: probe refuses an input larger than the machine's memory", "[cli]") {
  // x [2^36, 4] is 2^38 elements (2 TiB to draw), within the 2^40 shape
  // limit; y [2^36, 1] is small. Drawing x must be an error, not an abort.
  Fixture F;
  std::string P = F.Dir + "/wide.onnx";
  OnnxBuilder B;
  B.input("x", F32, {std::string("batch"), int64_t(4)})
      .floatInit("w", {4, 1}, std::vector<float>(4, 0.5f))
      .node("MatMul", {"x", "w"}, {"y"})
      .output("y")
      .writeTo(P);
  Run R = runGradlint("probe --dim batch=68719476736 " + P);
  CHECK(R.Code == 2);
  CHECK(R.Err.rfind("gradlint: error: " + P + ": input 'x' [68719476736, 4] needs about", 0) == 0);
  CHECK(R.Err.find("GiB to draw; this machine has") != std::string::npos);
  CHECK(R.Err.find('\n') == R.Err.size() - 1);
}

TEST_CASE("cli: inspect text shows shapes, ops and parameters", "[cli]") {
  Fixture F;
  Run R = runGradlint("inspect " + F.Model + " --dim batch=5");
  REQUIRE(R.Code == 0);
  CHECK(R.Out.find("cli-test") != std::string::npos);
  CHECK(R.Out.find("y  float32 [5, 4]") != std::string::npos);
  CHECK(R.Out.find("640 in 2 initializers") != std::string::npos); // 512 + 128
  CHECK(R.Out.find("MatMul") != std::string::npos);
  CHECK(R.Err.empty());
}

TEST_CASE("cli: inspect json follows gradlint.inspect/1 and is deterministic",
          "[cli]") {
  Fixture F;
  Run A = runGradlint("inspect --format json " + F.Model);
  Run B = runGradlint("inspect --format json " + F.Model);
  REQUIRE(A.Code == 0);
  CHECK(A.Out == B.Out);
  auto J = llvm::json::parse(A.Out);
  REQUIRE(bool(J));
  const llvm::json::Object *O = J->getAsObject();
  REQUIRE(O);
  CHECK(O->getString("schema") == llvm::Optional<llvm::StringRef>("gradlint.inspect/1"));
  const llvm::json::Object *M = O->getObject("model");
  REQUIRE(M);
  CHECK(M->getInteger("parameters") == llvm::Optional<int64_t>(640));
  CHECK(M->getInteger("nodes") == llvm::Optional<int64_t>(3));
  CHECK(M->getObject("dims")->getInteger("batch") == llvm::Optional<int64_t>(1));
  const llvm::json::Array *Outs = O->getArray("outputs");
  REQUIRE(Outs);
  const llvm::json::Array *Shape = (*Outs)[0].getAsObject()->getArray("shape");
  REQUIRE(Shape);
  CHECK((*Shape)[0].getAsInteger() == llvm::Optional<int64_t>(1));
  CHECK((*Shape)[1].getAsInteger() == llvm::Optional<int64_t>(4));
}

TEST_CASE("cli: -o writes the report to a file", "[cli]") {
  Fixture F;
  std::string Out = F.Dir + "/report.json";
  Run R = runGradlint("inspect --format json -o " + Out + " " + F.Model);
  REQUIRE(R.Code == 0);
  CHECK(R.Out.empty());
  std::ifstream In(Out);
  std::string Text((std::istreambuf_iterator<char>(In)), std::istreambuf_iterator<char>());
  CHECK(Text.find("gradlint.inspect/1") != std::string::npos);
}

TEST_CASE("cli: names in errors are escaped: control characters, bytes that are not UTF-8",
          "[cli]") {
  struct Case {
    std::string Name, Escaped;
    char Raw;
  };
  // A newline and a terminal escape; a stray continuation byte and a
  // truncated two-byte sequence, with a valid "é" kept as it is.
  for (const Case &C : {Case{"a\nb\x1b[2J", "a\\x0ab\\x1b[2J", '\x1b'},
                        Case{"a\x87tn\xc3-\xc3\xa9", "a\\x87tn\\xc3-\xc3\xa9", '\x87'}}) {
    INFO("expect " << C.Escaped);
    Fixture F;
    std::string P = F.Dir + "/evil.onnx";
    OnnxBuilder B;
    B.input("x", F32, {int64_t(2)}).node("Add", {"x", C.Name}, {"y"}).output("y").writeTo(P);
    Run R = runGradlint("inspect " + P);
    CHECK(R.Code == 2);
    CHECK(R.Err.find(C.Escaped) != std::string::npos);
    CHECK(R.Err.find(C.Raw) == std::string::npos);
  }
}

TEST_CASE("cli: names from the model reach reports escaped", "[cli]") {
  // A loadable model whose value and node names hold a terminal escape and
  // a byte that is not UTF-8: inspect's text names them as \xNN, and the
  // references between values still match (the graph loads).
  Fixture F;
  std::string P = F.Dir + "/names.onnx";
  std::string Evil = "h\x1b[2J\x87";
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2)})
      .node("Relu", {"x"}, {Evil}, {}, "", "relu" + Evil)
      .node("Neg", {Evil}, {"y"})
      .output("y")
      .output(Evil)
      .writeTo(P);
  Run R = runGradlint("inspect " + P);
  CHECK(R.Code == 0);
  CHECK(R.Out.find("h\\x1b[2J\\x87") != std::string::npos);
  CHECK(R.Out.find('\x1b') == std::string::npos);
  CHECK(R.Out.find('\x87') == std::string::npos);
  Run J = runGradlint("inspect --format json " + P);
  CHECK(J.Code == 0);
  CHECK(J.Out.find("h\\\\x1b[2J\\\\x87") != std::string::npos); // JSON escapes the backslash
}
