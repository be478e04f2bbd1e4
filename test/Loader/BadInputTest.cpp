//===- BadInputTest.cpp - every malformed model exits 2 with one line -----===//
//
// Each case writes a broken or hostile model, then checks both the library
// (an Error naming the file and the problem) and the CLI (exit code 2, exactly
// one line on stderr: "gradlint: error: <file>: <what>", nothing on stdout).
//
//===----------------------------------------------------------------------===//
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Random.h"
#include <catch2/catch.hpp>
#include <unistd.h>
#include <sys/stat.h>

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1, I64 = 7;

/// A valid two-node model to break in various ways.
OnnxBuilder validModel() {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2), int64_t(4)})
      .floatInit("w", {4, 3}, std::vector<float>(12, 0.5f))
      .node("MatMul", {"x", "w"}, {"y"})
      .node("Relu", {"y"}, {"z"})
      .output("z");
  return B;
}

/// Loads and infers shapes as `inspect` does; returns the error text or "".
std::string loadError(const std::string &Path) {
  auto M = loadModel(Path);
  if (!M)
    return llvm::toString(M.takeError());
  auto S = inferShapes(**M, {});
  if (!S)
    return llvm::toString(S.takeError());
  return "";
}

void expectRejected(const std::string &Path, const std::string &Needle) {
  std::string Msg = loadError(Path);
  INFO("path: " << Path << "\nmessage: " << Msg);
  REQUIRE(!Msg.empty());
  CHECK(Msg.rfind(Path + ": ", 0) == 0);
  CHECK(Msg.find(Needle) != std::string::npos);

  std::string Out, Err;
  int Code = runCommand(std::string(GRADLINT_BINARY) + " inspect '" + Path + "'",
                        Out, Err);
  INFO("stderr: " << Err);
  CHECK(Code == 2);
  CHECK(Out.empty());
  CHECK(Err.rfind("gradlint: error: " + Path + ": ", 0) == 0);
  CHECK(Err.find('\n') == Err.size() - 1);
  CHECK(Err.find(Needle) != std::string::npos);
}

struct TempDir {
  std::string Path = makeTempDir("bad");
  ~TempDir() { std::system(("rm -rf '" + Path + "'").c_str()); }
  std::string file(const std::string &Name) const { return Path + "/" + Name; }
};
} // namespace

#define BAD_INPUT(Title, Needle, Body)                                         \
  TEST_CASE("bad input: " Title, "[loader][bad]") {                            \
    TempDir D;                                                                 \
    std::string P = D.file("model.onnx");                                      \
    Body;                                                                      \
    expectRejected(P, Needle);                                                 \
  }

BAD_INPUT("missing file", "No such file", (void)0)
BAD_INPUT("directory", "is a directory", { P = D.Path; })
BAD_INPUT("empty file", "is empty", writeFile(P, ""))
BAD_INPUT("random bytes", "not", {
  Rng R(42);
  std::string Bytes;
  for (int I = 0; I < 4096; ++I)
    Bytes.push_back(static_cast<char>(R.next()));
  writeFile(P, Bytes);
})
BAD_INPUT("truncated protobuf", "not a valid ONNX protobuf", {
  std::string S = validModel().serialize();
  writeFile(P, S.substr(0, S.size() / 2));
})
BAD_INPUT("plain text", "not", writeFile(P, "this is not a model\n"))
BAD_INPUT("tensor file given as model", "not a valid ONNX protobuf",
          writeFile(P, serializeFloatTensor("t", {2}, {1, 2})))
BAD_INPUT("ir version too new", "IR version 99",
          validModel().irVersion(99).writeTo(P))
BAD_INPUT("ir version too old", "IR version 2",
          validModel().irVersion(2).writeTo(P))
BAD_INPUT("no graph", "has no graph", {
  // A ModelProto with ir_version and opset but no graph: field 1 (ir_version)
  // = 8, field 8 (opset_import) = {version: 17}.
  writeFile(P, std::string("\x08\x08\x42\x02\x10\x11", 6));
})
BAD_INPUT("no opset import", "imports no opset",
          validModel().clearOpsets().writeTo(P))
BAD_INPUT("invalid data type", "invalid data_type 99", {
  validModel().rawInit("bad", 99, {1}, "abcd").writeTo(P);
})
BAD_INPUT("lying dims: 10^12 elements in 40 bytes", "claims more than", {
  validModel().rawInit("huge", F32, {1000000, 1000000}, std::string(40, 'x')).writeTo(P);
})
BAD_INPUT("raw data shorter than dims", "raw_data holds 40", {
  validModel().rawInit("short", F32, {100}, std::string(40, 'x')).writeTo(P);
})
BAD_INPUT("negative dimension", "negative dimension", {
  validModel().rawInit("neg", F32, {-3}, "").writeTo(P);
})
BAD_INPUT("typed field count mismatch", "typed field", {
  validModel().typedFloatInit("typed", {3, 3}, {1, 2, 3}).writeTo(P);
})
BAD_INPUT("graph cycle", "cycle", {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2)})
      .node("Add", {"x", "b"}, {"a"}, {}, "", "first")
      .node("Relu", {"a"}, {"b"}, {}, "", "second")
      .output("b");
  B.writeTo(P);
})
BAD_INPUT("dangling input", "reads 'ghost'", {
  validModel().node("Add", {"z", "ghost"}, {"q"}).writeTo(P);
})
BAD_INPUT("duplicate output names", "produced by both", {
  validModel().node("Relu", {"x"}, {"z"}).writeTo(P);
})
BAD_INPUT("duplicate initializer", "defined twice", {
  validModel().floatInit("w", {1}, {1.0f}).writeTo(P);
})
// Rules read operands by position: a node must match its ONNX schema.
BAD_INPUT("too few inputs for the op", "(Where) has 2 inputs; Where (opset 17) takes 3", {
  validModel().node("Where", {"z", "z"}, {"q"}).writeTo(P);
})
BAD_INPUT("too many inputs for the op", "(Relu) has 2 inputs; Relu (opset 17) takes 1", {
  validModel().node("Relu", {"z", "x"}, {"q"}).writeTo(P);
})
BAD_INPUT("a required input left empty", "required input 1 ('B') is empty", {
  validModel().node("Gemm", {"z", "", "z"}, {"q"}).writeTo(P);
})
BAD_INPUT("too many outputs for the op", "Relu (opset 17) gives 1", {
  validModel().node("Relu", {"z"}, {"q", "r"}).writeTo(P);
})
BAD_INPUT("a shape of more than 2^40 elements", "more than 2^40 elements", {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(1) << 21, int64_t(1) << 20}).node("Relu", {"x"}, {"y"}).output("y");
  B.writeTo(P);
})
BAD_INPUT("undefined graph output", "graph output 'nowhere'", {
  validModel().output("nowhere").writeTo(P);
})
BAD_INPUT("node without op_type", "has no op_type", {
  validModel().node("", {"z"}, {"q"}).writeTo(P);
})
BAD_INPUT("node writes an initializer", "already a graph input or initializer", {
  validModel().node("Relu", {"x"}, {"w"}).writeTo(P);
})
BAD_INPUT("duplicate graph input", "listed twice", {
  validModel().input("x", F32, {int64_t(2), int64_t(4)}).writeTo(P);
})
BAD_INPUT("default domain not imported", "does not import", {
  OnnxBuilder B;
  B.clearOpsets().opset("com.microsoft", 1);
  B.input("x", F32, {int64_t(2)}).node("Relu", {"x"}, {"y"}).output("y");
  B.writeTo(P);
})
BAD_INPUT("subgraphs nested too deep", "nest deeper than", {
  OnnxBuilder B = validModel();
  B.node("If", {"z"}, {"q"});
  B.nestedSubgraphs(20);
  B.writeTo(P);
})
BAD_INPUT("rank over the limit", "rank 33", {
  validModel().rawInit("r", F32, std::vector<int64_t>(33, 1), std::string(4, 0)).writeTo(P);
})
BAD_INPUT("invalid input elem_type", "invalid elem_type 99", {
  OnnxBuilder B;
  B.input("x", 99, {int64_t(2)}).node("Relu", {"x"}, {"y"}).output("y");
  B.writeTo(P);
})
BAD_INPUT("unbound symbolic dimension", "--dim hidden=VALUE", {
  OnnxBuilder B;
  B.input("x", F32, {std::string("hidden")}).node("Relu", {"x"}, {"y"}).output("y");
  B.writeTo(P);
})
BAD_INPUT("inconsistent MatMul dims", "inner dimensions", {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2), int64_t(5)})
      .floatInit("w", {4, 3}, std::vector<float>(12, 0))
      .node("MatMul", {"x", "w"}, {"y"})
      .output("y");
  B.writeTo(P);
})
BAD_INPUT("impossible reshape", "cannot reshape", {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2), int64_t(5)})
      .int64Init("s", {2}, {3, 3})
      .node("Reshape", {"x", "s"}, {"y"})
      .output("y");
  B.writeTo(P);
})
BAD_INPUT("declared output shape contradicts", "declared as dimension 7", {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(2), int64_t(5)})
      .node("Relu", {"x"}, {"y"})
      .output("y", F32, {int64_t(2), int64_t(7)});
  B.writeTo(P);
})
BAD_INPUT("gather index out of range", "out of range", {
  OnnxBuilder B;
  B.input("x", F32, {int64_t(4), int64_t(5)})
      .int64Init("i", {1}, {9})
      .node("Gather", {"x", "i"}, {"y"})
      .output("y");
  B.writeTo(P);
})
BAD_INPUT("hostile name with newline and escapes", "reads", {
  validModel().node("Add", {"z", "evil\x1b[31m\nname"}, {"q"}).writeTo(P);
})
BAD_INPUT("external data: absolute path", "absolute path", {
  validModel().externalInit("e", F32, {2}, "/etc/passwd", "0", "8").writeTo(P);
})
BAD_INPUT("external data: escapes with ..", "leaves the model's directory", {
  validModel().externalInit("e", F32, {2}, "../../etc/passwd", "0", "8").writeTo(P);
})
BAD_INPUT("external data: symlink out", "outside the model's directory", {
  std::string Outside = makeTempDir("outside");
  writeFile(Outside + "/secret.bin", std::string(64, 'x'));
  REQUIRE(symlink((Outside + "/secret.bin").c_str(), D.file("link.bin").c_str()) == 0);
  validModel().externalInit("e", F32, {2}, "link.bin", "0", "8").writeTo(P);
})
BAD_INPUT("external data: past end of file", "but the file has 16", {
  writeFile(D.file("w.bin"), std::string(16, 'x'));
  validModel().externalInit("e", F32, {4}, "w.bin", "8", "16").writeTo(P);
})
BAD_INPUT("external data: missing file", "cannot be opened", {
  validModel().externalInit("e", F32, {2}, "nothere.bin", "0", "8").writeTo(P);
})
BAD_INPUT("external data: garbage offset", "is not a number", {
  writeFile(D.file("w.bin"), std::string(16, 'x'));
  validModel().externalInit("e", F32, {2}, "w.bin", "8z", "8").writeTo(P);
})
BAD_INPUT("external data: length disagrees with dims", "holds 12 bytes", {
  writeFile(D.file("w.bin"), std::string(16, 'x'));
  validModel().externalInit("e", F32, {2}, "w.bin", "0", "12").writeTo(P);
})
BAD_INPUT("external data: location is a directory", "not a regular file", {
  REQUIRE(mkdir(D.file("sub").c_str(), 0700) == 0);
  validModel().externalInit("e", F32, {2}, "sub", "0", "8").writeTo(P);
})
