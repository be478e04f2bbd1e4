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

} // namespace gradlint::test

/// Skips the current test visibly: a message, and exit code 77 that CTest
/// reports as "Skipped" (SKIP_RETURN_CODE).
#define GRADLINT_SKIP(Why)                                                     \
  do {                                                                         \
    WARN("SKIPPED: " << Why);                                                  \
    std::exit(77);                                                             \
  } while (0)

#endif
