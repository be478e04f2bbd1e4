//===- Dims.cpp - dimension bindings and broadcasting ---------------------===//
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/StringExtras.h"

using namespace gradlint;

llvm::Error gradlint::parseDimBinding(llvm::StringRef Text, DimBindings &Out) {
  auto [Name, Val] = Text.split('=');
  Name = Name.trim();
  Val = Val.trim();
  int64_t V;
  if (Name.empty() || Val.empty() || Val.getAsInteger(10, V) || V <= 0)
    return makeError("--dim expects NAME=VALUE with a positive integer VALUE, "
                     "got '" + Text + "'");
  Out[Name.str()] = V;
  return llvm::Error::success();
}

int64_t gradlint::defaultDimValue(llvm::StringRef Symbol) {
  std::string S = Symbol.lower();
  llvm::StringRef L(S);
  if (L.contains("batch") || L == "b" || L == "n" || L == "bs")
    return 1;
  if (L.contains("seq") || L.contains("len") || L == "t" || L == "s" ||
      L.contains("token") || L.contains("time"))
    return 128;
  return -1;
}

bool gradlint::broadcastShapes(llvm::ArrayRef<int64_t> A,
                               llvm::ArrayRef<int64_t> B, Dims &Out) {
  size_t R = std::max(A.size(), B.size());
  Out.assign(R, 1);
  for (size_t I = 0; I != R; ++I) {
    int64_t DA = I < R - A.size() ? 1 : A[I - (R - A.size())];
    int64_t DB = I < R - B.size() ? 1 : B[I - (R - B.size())];
    if (DA == DB || DB == 1)
      Out[I] = DA;
    else if (DA == 1)
      Out[I] = DB;
    else
      return false;
  }
  return true;
}

std::string gradlint::formatShape(llvm::ArrayRef<int64_t> Shape) {
  std::string S = "[";
  for (size_t I = 0; I != Shape.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Shape[I]);
  return S + "]";
}
