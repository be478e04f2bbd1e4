//===- Error.cpp ----------------------------------------------------------===//
#include "gradlint/Support/Error.h"

using namespace gradlint;

llvm::Error gradlint::makeError(const llvm::Twine &Message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), Message);
}

llvm::Error gradlint::fileError(llvm::StringRef Path,
                                const llvm::Twine &Message) {
  return makeError(Path + ": " + Message);
}

llvm::Error gradlint::inFile(llvm::StringRef Path, llvm::Error E) {
  if (!E)
    return E;
  std::string Message = llvm::toString(std::move(E));
  if (llvm::StringRef(Message).startswith((Path + ": ").str()))
    return makeError(Message);
  return fileError(Path, Message);
}
