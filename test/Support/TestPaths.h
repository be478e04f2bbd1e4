//===- TestPaths.h - where tests find their data ----------------*- C++ -*-===//
#ifndef GRADLINT_TEST_TESTPATHS_H
#define GRADLINT_TEST_TESTPATHS_H

#include <string>
#include <sys/stat.h>

namespace gradlint::test {

inline bool pathExists(const std::string &P) {
  struct stat S;
  return stat(P.c_str(), &S) == 0;
}

inline std::string nodeTestsDir() {
  return std::string(GRADLINT_SHARED_DIR) + "/onnx-node-tests";
}

/// Runs a shell command; returns its exit status and fills Out with stdout
/// and Err with stderr.
int runCommand(const std::string &Cmd, std::string &Out, std::string &Err);

/// What one run of the gradlint binary under test returned and printed.
struct Run {
  int Code = 0;
  std::string Out, Err;
};

/// Runs `gradlint ARGS` (ARGS as a shell would split them).
inline Run runGradlint(const std::string &Args) {
  Run R;
  R.Code = runCommand(std::string(GRADLINT_BINARY) + " " + Args, R.Out, R.Err);
  return R;
}

} // namespace gradlint::test

/// Skips the current test visibly: a message, and exit code 77 that CTest
/// reports as "Skipped" (SKIP_RETURN_CODE).
#define GRADLINT_SKIP(Why)                                                     \
  do {                                                                         \
    WARN("SKIPPED: " << Why);                                                  \
    std::exit(77);                                                             \
  } while (0)

#endif
