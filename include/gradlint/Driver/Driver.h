//===- Driver.h - the subcommands behind the CLI ----------------*- C++ -*-===//
//
// tools/gradlint/main.cpp parses options into these structs and calls the
// matching run* function; each returns the process exit code or an Error
// (which main prints as one line and turns into exit code 2).
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_DRIVER_DRIVER_H
#define GRADLINT_DRIVER_DRIVER_H

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <string>
#include <vector>

namespace gradlint {

/// Exit codes fixed by DESIGN §6.
enum ExitCode : int { ExitOk = 0, ExitFindings = 1, ExitUsage = 2 };

struct ModelOptions {
  std::string ModelPath;
  std::vector<std::string> Dims; ///< "NAME=VALUE"
  std::string Format = "text";
  std::string OutputPath; ///< empty or "-" for stdout
};

llvm::Expected<int> runInspect(const ModelOptions &Opts);

/// Opens the output stream named by Path ("" or "-" is stdout).
llvm::Expected<std::unique_ptr<llvm::raw_ostream>>
openOutput(llvm::StringRef Path);

} // namespace gradlint

#endif
