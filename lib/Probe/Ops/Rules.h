//===- Rules.h - how each ONNX op runs in the probe (private) ---*- C++ -*-===//
//
// An OpRule is an op's forward lowering and its gradient, side by side in
// Ops/<Family>.cpp; OpTable.cpp maps every OpKind to one (one switch, no
// default, so a new op in Ops.def is a compile error until it has a rule or
// an explicit reason why not).
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_PROBE_OPS_RULES_H
#define GRADLINT_LIB_PROBE_OPS_RULES_H

#include "../OpContext.h"

namespace gradlint::probe {

using RuleFn = llvm::Error (*)(OpContext &C, const Node &N, const OpRule &R);

struct OpRule {
  RuleFn Forward = nullptr;  ///< null: integer-only op, evaluated on the host
  RuleFn Backward = nullptr; ///< null: no gradient flows through the op
  uint32_t DiffInputs = 0;   ///< bit I: a gradient flows to input I
  bool HostCapable = false;  ///< Forward also moves integer host data
  UnaryOp Unary = UnaryOp::Identity;
  BinaryOp Binary = BinaryOp::Add;
  UnaryParams Params;
  uint8_t Variant = 0; ///< a family's sub-kind (NormVariant, ReduceVariant, ...)
  const char *Unsupported = nullptr; ///< why the probe cannot run it
};

/// The rule for one node (attributes may refine it, e.g. Gelu's approximate).
const OpRule &ruleFor(const Node &N);

constexpr uint32_t AllInputs = ~0u;

enum class NormVariant : uint8_t {
  LayerNorm,
  RMSNorm,
  Simplified,
  Skip,
  SkipSimplified
};
enum class ReduceVariant : uint8_t { Sum, Mean, Max };
enum class AttentionVariant : uint8_t { Onnx, Microsoft, MultiHead };
enum class LossVariant : uint8_t { SoftmaxCrossEntropy, NegativeLogLikelihood };
enum class MovementVariant : uint8_t { Reshape, Flatten, Squeeze, Unsqueeze };

// Elementwise.cpp
llvm::Error unaryForward(OpContext &, const Node &, const OpRule &);
llvm::Error unaryBackward(OpContext &, const Node &, const OpRule &);
llvm::Error binaryForward(OpContext &, const Node &, const OpRule &);
llvm::Error binaryBackward(OpContext &, const Node &, const OpRule &);
llvm::Error variadicForward(OpContext &, const Node &, const OpRule &);
llvm::Error variadicBackward(OpContext &, const Node &, const OpRule &);
llvm::Error biasUnaryForward(OpContext &, const Node &, const OpRule &);
llvm::Error biasUnaryBackward(OpContext &, const Node &, const OpRule &);
llvm::Error identityForward(OpContext &, const Node &, const OpRule &);
llvm::Error identityBackward(OpContext &, const Node &, const OpRule &);
llvm::Error castForward(OpContext &, const Node &, const OpRule &);
llvm::Error castBackward(OpContext &, const Node &, const OpRule &);
llvm::Error whereForward(OpContext &, const Node &, const OpRule &);
llvm::Error whereBackward(OpContext &, const Node &, const OpRule &);
// Linear.cpp
llvm::Error matMulForward(OpContext &, const Node &, const OpRule &);
llvm::Error matMulBackward(OpContext &, const Node &, const OpRule &);
llvm::Error gemmForward(OpContext &, const Node &, const OpRule &);
llvm::Error gemmBackward(OpContext &, const Node &, const OpRule &);
// Softmax.cpp
llvm::Error softmaxForward(OpContext &, const Node &, const OpRule &);
llvm::Error softmaxBackward(OpContext &, const Node &, const OpRule &);
// Normalization.cpp
llvm::Error normForward(OpContext &, const Node &, const OpRule &);
llvm::Error normBackward(OpContext &, const Node &, const OpRule &);
// Reduction.cpp
llvm::Error reduceForward(OpContext &, const Node &, const OpRule &);
llvm::Error reduceBackward(OpContext &, const Node &, const OpRule &);
// Movement.cpp
llvm::Error reshapeForward(OpContext &, const Node &, const OpRule &);
llvm::Error transposeForward(OpContext &, const Node &, const OpRule &);
llvm::Error transposeBackward(OpContext &, const Node &, const OpRule &);
llvm::Error sliceForward(OpContext &, const Node &, const OpRule &);
llvm::Error sliceBackward(OpContext &, const Node &, const OpRule &);
llvm::Error concatForward(OpContext &, const Node &, const OpRule &);
llvm::Error concatBackward(OpContext &, const Node &, const OpRule &);
llvm::Error splitForward(OpContext &, const Node &, const OpRule &);
llvm::Error splitBackward(OpContext &, const Node &, const OpRule &);
llvm::Error expandForward(OpContext &, const Node &, const OpRule &);
llvm::Error expandBackward(OpContext &, const Node &, const OpRule &);
llvm::Error triluForward(OpContext &, const Node &, const OpRule &);
llvm::Error triluBackward(OpContext &, const Node &, const OpRule &);
// Gather.cpp
llvm::Error gatherForward(OpContext &, const Node &, const OpRule &);
llvm::Error gatherBackward(OpContext &, const Node &, const OpRule &);
llvm::Error gatherElementsForward(OpContext &, const Node &, const OpRule &);
llvm::Error gatherElementsBackward(OpContext &, const Node &, const OpRule &);
// Source.cpp
llvm::Error sourceForward(OpContext &, const Node &, const OpRule &);
// Attention.cpp
llvm::Error attentionForward(OpContext &, const Node &, const OpRule &);
llvm::Error attentionBackward(OpContext &, const Node &, const OpRule &);
// Loss.cpp
llvm::Error lossForward(OpContext &, const Node &, const OpRule &);
llvm::Error lossBackward(OpContext &, const Node &, const OpRule &);

} // namespace gradlint::probe

#endif
