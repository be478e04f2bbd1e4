//===- CheckTextTest.cpp - `gradlint check` text and exit codes -----------===//
#include "CheckTestSupport.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

TEST_CASE("check: text findings read like a compiler's", "[check]") {
  CheckDir D;
  Run R = D.check("saturated.onnx");
  REQUIRE(R.Code == 0); // warnings only; --fail-on defaults to error
  CHECK(R.Err.empty());
  CHECK(R.Out.find(
            "saturated.onnx: warning: tanh saturates: 68% of its input has "
            "|x| >= 5 (input RMS 12) [GL109]\n") != std::string::npos);
  CHECK(R.Out.find(
            "\nsaturated.onnx: note: scale the weight 'W' that feeds it by "
            "about 0.0833") != std::string::npos);
  CHECK(R.Out.find("[GL111]\n") != std::string::npos);
  CHECK(R.Out.find('\x1b') == std::string::npos); // no colour into a pipe
  // The table of predicted gradient norms, then the count.
  CHECK(R.Out.find(
            "saturated.onnx: predicted gradient norms for the projection loss, "
            "est [lo, hi]:") != std::string::npos);
  CHECK(R.Out.find("\n  parameters\n") != std::string::npos);
  CHECK(R.Out.find("\n    -       W ") != std::string::npos);
  CHECK(R.Out.size() > 30);
  CHECK(R.Out.substr(R.Out.rfind("\n", R.Out.size() - 2) + 1) ==
        "saturated.onnx: 0 errors, 2 warnings, 0 notes\n");
}

TEST_CASE("check: --fail-on decides the exit code", "[check]") {
  CheckDir D;
  CHECK(D.check("saturated.onnx --fail-on warning").Code == 1);
  CHECK(D.check("saturated.onnx --fail-on note").Code == 1);
  CHECK(D.check("saturated.onnx --fail-on error").Code == 0);
  CHECK(D.check("saturated.onnx --fail-on never").Code == 0);
  CHECK(D.check("saturated.onnx --fail-on warning --select GL102").Code == 0);
}

TEST_CASE("check: a healthy model has no findings", "[check]") {
  Run R = runTool("check " GRADLINT_SOURCE_DIR
                  "/examples/tiny-gpt.onnx --fail-on note");
  CHECK(R.Code == 0);
  CHECK(R.Out.find(": no findings\n") != std::string::npos);
  CHECK(
      R.Out.find("  block 1 (pre-norm, attention 2 heads x 16, gelu_tanh)\n") !=
      std::string::npos);
  CHECK(R.Out.find("    stream ") != std::string::npos);
}

TEST_CASE("check: --select and --ignore", "[check]") {
  CheckDir D;
  Run Only = D.check("saturated.onnx --select GL109 --format json");
  CHECK(Only.Out.find("GL111") == std::string::npos);
  CHECK(Only.Out.find("\"GL109\"") != std::string::npos);
  Run None = D.check("saturated.onnx --ignore GL109,init-scale --fail-on note");
  CHECK(None.Code == 0);
  CHECK(None.Out.find("no findings") != std::string::npos);
}

TEST_CASE("check: usage errors exit 2 with one line", "[check]") {
  CheckDir D;
  for (const char *Args :
       {"saturated.onnx --format yaml", "saturated.onnx --fail-on sometimes",
        "saturated.onnx --precision fp8", "saturated.onnx --select GL999",
        "saturated.onnx --loss mse", "missing.onnx", "",
        "saturated.onnx --dim batch=zero",
        "saturated.onnx --config nowhere.toml",
        "saturated.onnx --baseline nowhere.json"}) {
    INFO(Args);
    Run R = D.check(Args);
    CHECK(R.Code == 2);
    CHECK(R.Err.rfind("gradlint: error: ", 0) == 0);
    CHECK(R.Err.find('\n') == R.Err.size() - 1);
    CHECK(R.Out.empty());
  }
}

TEST_CASE("check: -o writes the report to a file", "[check]") {
  CheckDir D;
  Run R = D.check("saturated.onnx --format json -o report.json");
  CHECK(R.Code == 0);
  CHECK(R.Out.empty());
  CHECK(slurp(D.Dir + "/report.json").find("\"gradlint.check/1\"") !=
        std::string::npos);
}

TEST_CASE("check: the same model and options give the same bytes", "[check]") {
  CheckDir D;
  for (const char *Format : {"text", "json", "sarif", "github"}) {
    INFO(Format);
    std::string Args =
        std::string("saturated.onnx --precision fp16 --format ") + Format;
    Run A = D.check(Args), B = D.check(Args);
    CHECK(A.Code == B.Code);
    CHECK(A.Out == B.Out);
    CHECK(!A.Out.empty());
  }
  Run A = runTool("check --format json " GRADLINT_SOURCE_DIR
                  "/examples/tiny-gpt.onnx");
  Run B = runTool("check --format json " GRADLINT_SOURCE_DIR
                  "/examples/tiny-gpt.onnx");
  CHECK(A.Out == B.Out);
}
