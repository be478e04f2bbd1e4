//===- Error.h - error values -----------------------------------*- C++ -*-===//
#ifndef GRADLINT_SUPPORT_ERROR_H
#define GRADLINT_SUPPORT_ERROR_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace gradlint {

/// An error with a lowercase message and no trailing period.
llvm::Error makeError(const llvm::Twine &Message);

/// An error about a file: "<path>: <message>", the form main() prints after
/// "gradlint: error: ".
llvm::Error fileError(llvm::StringRef Path, const llvm::Twine &Message);

/// Prefixes an error's message with "<path>: " unless it already names it.
llvm::Error inFile(llvm::StringRef Path, llvm::Error E);

/// Text from a model (names, messages that quote them) as it may reach a
/// terminal: control characters and bytes that are not UTF-8 (a damaged
/// file) become \xNN; valid UTF-8 stays as it is.
std::string printable(llvm::StringRef S);

} // namespace gradlint

#endif
