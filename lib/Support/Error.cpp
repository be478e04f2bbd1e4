//===- Error.cpp ----------------------------------------------------------===//
#include "gradlint/Support/Error.h"
#include "llvm/Support/ConvertUTF.h"

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

std::string gradlint::printable(llvm::StringRef S) {
  std::string Out;
  auto Escape = [&Out](unsigned char C) {
    char Buf[8];
    snprintf(Buf, sizeof Buf, "\\x%02x", C);
    Out += Buf;
  };
  const auto *P = reinterpret_cast<const llvm::UTF8 *>(S.data()), *End = P + S.size();
  while (P != End) {
    unsigned char C = *P;
    if (C < 0x20 || C == 0x7f) {
      Escape(C);
      ++P;
      continue;
    }
    // Names from a damaged file may not be UTF-8: escape the stray bytes.
    unsigned Len = llvm::getNumBytesForUTF8(C);
    if (Len > unsigned(End - P) || !llvm::isLegalUTF8Sequence(P, P + Len)) {
      Escape(C);
      ++P;
      continue;
    }
    Out.append(reinterpret_cast<const char *>(P), Len);
    P += Len;
  }
  return Out;
}
