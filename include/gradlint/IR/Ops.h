//===- Ops.h - operator kinds expanded from Ops.def -------------*- C++ -*-===//
#ifndef GRADLINT_IR_OPS_H
#define GRADLINT_IR_OPS_H

#include "llvm/ADT/StringRef.h"
#include <cstdint>

namespace gradlint {

/// Where an op's schema comes from.
enum class OpDomain : uint8_t { Onnx, Microsoft, Other };

/// Which transfer rule / kernel family handles an op.
enum class OpFamily : uint8_t {
  Binary,
  Unary,
  Compare,
  Select,
  Linear,
  Softmax,
  Normalization,
  Reduction,
  Movement,
  Gather,
  Source,
  Attention,
  Loss,
  Unknown,
};

/// Every operator gradlint knows, plus Unknown for everything else.
enum class OpKind : uint16_t {
#define GL_OP(Kind, Domain, OpType, Family) Kind,
#include "gradlint/IR/Ops.def"
  Unknown,
};

/// Number of known kinds (Unknown excluded).
constexpr unsigned NumOpKinds = static_cast<unsigned>(OpKind::Unknown);

/// Looks an op up by domain string ("" or "ai.onnx", "com.microsoft") and type.
OpKind lookupOp(llvm::StringRef Domain, llvm::StringRef OpType);
OpDomain domainOf(OpKind K);
OpFamily familyOf(OpKind K);
llvm::StringRef opTypeName(OpKind K);
llvm::StringRef familyName(OpFamily F);
/// Classifies a domain string; "" and "ai.onnx" are the default domain.
OpDomain classifyDomain(llvm::StringRef Domain);

} // namespace gradlint

#endif
