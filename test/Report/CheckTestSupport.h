//===- CheckTestSupport.h - running `gradlint check` in tests ---*- C++ -*-===//
#ifndef GRADLINT_TEST_REPORT_CHECKTESTSUPPORT_H
#define GRADLINT_TEST_REPORT_CHECKTESTSUPPORT_H

#include "OnnxBuilder.h"
#include "TestPaths.h"
#include <cstdlib>
#include <fstream>
#include <string>

namespace gradlint::test {

inline Run runTool(const std::string &Args) { return runGradlint(Args); }

inline std::string slurp(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(In)),
                     std::istreambuf_iterator<char>());
}

/// A directory holding saturated.onnx: x[batch, 16] -> MatMul(W = 3.0) -> Tanh.
/// Every feature of the pre-activation is 3·Σx ~ N(0, 144), so 68% of it is
/// at |x| >= 5 (GL109), and W's std 3 is 7.2x the tanh Xavier std (GL111).
/// Paths are relative to the directory, which tests cd into.
struct CheckDir {
  std::string Dir = makeTempDir("check");
  CheckDir() {
    OnnxBuilder B;
    B.producer("check-test")
        .input("x", 1, {std::string("batch"), int64_t(16)})
        .floatInit("W", {16, 16}, std::vector<float>(256, 3.0f))
        .node("MatMul", {"x", "W"}, {"h"}, {}, "", "/fc/MatMul")
        .node("Tanh", {"h"}, {"y"}, {}, "", "/act/Tanh")
        .output("y")
        .writeTo(Dir + "/saturated.onnx");
  }
  ~CheckDir() { std::system(("rm -rf '" + Dir + "'").c_str()); }
  /// Runs gradlint in the directory.
  Run check(const std::string &Args) const {
    Run R;
    R.Code =
        runCommand("cd '" + Dir + "' && " + GRADLINT_BINARY + " check " + Args,
                   R.Out, R.Err);
    return R;
  }
};

} // namespace gradlint::test

#endif
