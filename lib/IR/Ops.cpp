//===- Ops.cpp - operator tables expanded from Ops.def --------------------===//
#include "gradlint/IR/Ops.h"

using namespace gradlint;

namespace {
struct OpInfo {
  OpDomain Domain;
  llvm::StringRef Type;
  OpFamily Family;
};

constexpr OpInfo OpTable[] = {
#define GL_OP(Kind, Domain, OpType, Family)                                    \
  {OpDomain::Domain, OpType, OpFamily::Family},
#include "gradlint/IR/Ops.def"
};
static_assert(sizeof(OpTable) / sizeof(OpTable[0]) == NumOpKinds,
              "OpTable must have one row per OpKind");
} // namespace

OpDomain gradlint::classifyDomain(llvm::StringRef Domain) {
  if (Domain.empty() || Domain == "ai.onnx")
    return OpDomain::Onnx;
  if (Domain == "com.microsoft")
    return OpDomain::Microsoft;
  return OpDomain::Other;
}

OpKind gradlint::lookupOp(llvm::StringRef Domain, llvm::StringRef OpType) {
  OpDomain D = classifyDomain(Domain);
  for (unsigned I = 0; I != NumOpKinds; ++I)
    if (OpTable[I].Domain == D && OpTable[I].Type == OpType)
      return static_cast<OpKind>(I);
  // ORT registers SimplifiedLayerNormalization in the default domain, but
  // some exporters write it under com.microsoft.
  if (D == OpDomain::Microsoft && OpType == "SimplifiedLayerNormalization")
    return OpKind::SimplifiedLayerNormalization;
  return OpKind::Unknown;
}

OpDomain gradlint::domainOf(OpKind K) {
  return K == OpKind::Unknown ? OpDomain::Other
                              : OpTable[static_cast<unsigned>(K)].Domain;
}

OpFamily gradlint::familyOf(OpKind K) {
  return K == OpKind::Unknown ? OpFamily::Unknown
                              : OpTable[static_cast<unsigned>(K)].Family;
}

llvm::StringRef gradlint::opTypeName(OpKind K) {
  return K == OpKind::Unknown ? "<unknown>"
                              : OpTable[static_cast<unsigned>(K)].Type;
}

llvm::StringRef gradlint::familyName(OpFamily F) {
  switch (F) {
  case OpFamily::Binary: return "binary";
  case OpFamily::Unary: return "unary";
  case OpFamily::Compare: return "compare";
  case OpFamily::Select: return "select";
  case OpFamily::Linear: return "linear";
  case OpFamily::Softmax: return "softmax";
  case OpFamily::Normalization: return "normalization";
  case OpFamily::Reduction: return "reduction";
  case OpFamily::Movement: return "movement";
  case OpFamily::Gather: return "gather";
  case OpFamily::Source: return "source";
  case OpFamily::Attention: return "attention";
  case OpFamily::Loss: return "loss";
  case OpFamily::Unknown: return "unknown";
  }
  return "unknown";
}
