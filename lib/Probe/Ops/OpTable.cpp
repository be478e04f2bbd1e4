//===- OpTable.cpp - every OpKind's rule in the probe ---------------------===//
//
// The one switch over OpKind in the probe. No default: a new op in Ops.def
// fails to compile here until it gets a rule or a stated reason.
//
//===----------------------------------------------------------------------===//
#include "Rules.h"
#include <vector>

using namespace gradlint;
using namespace gradlint::probe;

namespace {

OpRule rule(RuleFn F, RuleFn B, uint32_t Diff) {
  OpRule R;
  R.Forward = F;
  R.Backward = B;
  R.DiffInputs = Diff;
  return R;
}

OpRule unary(UnaryOp Op) {
  OpRule R = rule(unaryForward, unaryBackward, 1);
  R.Unary = Op;
  return R;
}

OpRule binary(BinaryOp Op) {
  OpRule R = rule(binaryForward, binaryBackward, 3);
  R.Binary = Op;
  return R;
}

OpRule variadic(BinaryOp Op) {
  OpRule R = rule(variadicForward, variadicBackward, AllInputs);
  R.Binary = Op;
  return R;
}

/// Integer-only ops: evaluated on the host by the constant folder.
OpRule hostOnly() { return OpRule(); }

template <typename E> OpRule variant(OpRule R, E V) {
  R.Variant = static_cast<uint8_t>(V);
  return R;
}

OpRule movement(RuleFn F, RuleFn B, uint32_t Diff = 1) {
  OpRule R = rule(F, B, Diff);
  R.HostCapable = true;
  return R;
}

OpRule unsupported(const char *Why) {
  OpRule R;
  R.Unsupported = Why;
  return R;
}

OpRule makeRule(OpKind K) {
  switch (K) {
  case OpKind::Add: return binary(BinaryOp::Add);
  case OpKind::Sub: return binary(BinaryOp::Sub);
  case OpKind::Mul: return binary(BinaryOp::Mul);
  case OpKind::Div: return binary(BinaryOp::Div);
  case OpKind::Pow: return binary(BinaryOp::Pow);
  case OpKind::Mod: return binary(BinaryOp::Mod);
  case OpKind::Max: return variadic(BinaryOp::Max);
  case OpKind::Min: return variadic(BinaryOp::Min);
  case OpKind::Sum: return variadic(BinaryOp::Add);

  case OpKind::Sqrt: return unary(UnaryOp::Sqrt);
  case OpKind::Reciprocal: return unary(UnaryOp::Reciprocal);
  case OpKind::Neg: return unary(UnaryOp::Neg);
  case OpKind::Exp: return unary(UnaryOp::Exp);
  case OpKind::Log: return unary(UnaryOp::Log);
  case OpKind::Abs: return unary(UnaryOp::Abs);
  case OpKind::Ceil: return unary(UnaryOp::Ceil);
  case OpKind::Floor: return unary(UnaryOp::Floor);
  case OpKind::Erf: return unary(UnaryOp::Erf);
  case OpKind::Tanh: return unary(UnaryOp::Tanh);
  case OpKind::Sigmoid: return unary(UnaryOp::Sigmoid);
  case OpKind::Relu: return unary(UnaryOp::Relu);
  case OpKind::LeakyRelu: return unary(UnaryOp::LeakyRelu);
  case OpKind::Gelu: return unary(UnaryOp::Gelu);
  case OpKind::Elu: return unary(UnaryOp::Elu);
  case OpKind::Selu: return unary(UnaryOp::Selu);
  case OpKind::Softplus: return unary(UnaryOp::Softplus);
  case OpKind::Mish: return unary(UnaryOp::Mish);
  case OpKind::HardSigmoid: return unary(UnaryOp::HardSigmoid);
  case OpKind::Clip: return unary(UnaryOp::Clip);
  case OpKind::MsGelu: return unary(UnaryOp::Gelu);
  case OpKind::QuickGelu: return unary(UnaryOp::QuickGelu);
  case OpKind::FastGelu: {
    OpRule R = rule(biasUnaryForward, biasUnaryBackward, 3);
    R.Unary = UnaryOp::GeluTanh;
    return R;
  }
  case OpKind::BiasGelu: {
    OpRule R = rule(biasUnaryForward, biasUnaryBackward, 3);
    R.Unary = UnaryOp::Gelu;
    return R;
  }
  case OpKind::Identity:
  case OpKind::Dropout:
    return movement(identityForward, identityBackward);
  case OpKind::Cast:
  case OpKind::CastLike:
    return rule(castForward, castBackward, 1);

  case OpKind::Not:
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::Greater:
  case OpKind::And:
  case OpKind::Or:
    return hostOnly();
  case OpKind::Where: return rule(whereForward, whereBackward, 6);

  case OpKind::MatMul: return rule(matMulForward, matMulBackward, 3);
  case OpKind::Gemm: return rule(gemmForward, gemmBackward, 7);

  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    return rule(softmaxForward, softmaxBackward, 1);

  case OpKind::LayerNormalization:
    return variant(rule(normForward, normBackward, 7), NormVariant::LayerNorm);
  case OpKind::RMSNormalization:
    return variant(rule(normForward, normBackward, 3), NormVariant::RMSNorm);
  case OpKind::SimplifiedLayerNormalization:
    return variant(rule(normForward, normBackward, 3), NormVariant::Simplified);
  case OpKind::SkipLayerNormalization:
    return variant(rule(normForward, normBackward, 31), NormVariant::Skip);
  case OpKind::SkipSimplifiedLayerNormalization:
    return variant(rule(normForward, normBackward, 15), NormVariant::SkipSimplified);

  case OpKind::ReduceMean:
    return variant(rule(reduceForward, reduceBackward, 1), ReduceVariant::Mean);
  case OpKind::ReduceSum:
    return variant(rule(reduceForward, reduceBackward, 1), ReduceVariant::Sum);
  case OpKind::ReduceMax:
    return variant(rule(reduceForward, reduceBackward, 1), ReduceVariant::Max);

  case OpKind::Reshape:
    return variant(movement(reshapeForward, identityBackward), MovementVariant::Reshape);
  case OpKind::Flatten:
    return variant(movement(reshapeForward, identityBackward), MovementVariant::Flatten);
  case OpKind::Squeeze:
    return variant(movement(reshapeForward, identityBackward), MovementVariant::Squeeze);
  case OpKind::Unsqueeze:
    return variant(movement(reshapeForward, identityBackward), MovementVariant::Unsqueeze);
  case OpKind::Transpose: return movement(transposeForward, transposeBackward);
  case OpKind::Concat: return movement(concatForward, concatBackward, AllInputs);
  case OpKind::Split: return movement(splitForward, splitBackward);
  case OpKind::Slice: return movement(sliceForward, sliceBackward);
  case OpKind::Expand: return movement(expandForward, expandBackward);
  case OpKind::Trilu: return movement(triluForward, triluBackward);
  case OpKind::Gather: return movement(gatherForward, gatherBackward);
  case OpKind::GatherElements:
    return movement(gatherElementsForward, gatherElementsBackward);

  case OpKind::Constant:
  case OpKind::ConstantOfShape:
  case OpKind::Range:
    return movement(sourceForward, nullptr, 0);
  case OpKind::Shape:
  case OpKind::Size:
    return hostOnly();

  case OpKind::Attention:
    // Q, K, V, past_key, past_value; masks are constants.
    return variant(rule(attentionForward, attentionBackward, 0b110111),
                   AttentionVariant::Onnx);
  case OpKind::MsAttention:
    return variant(rule(attentionForward, attentionBackward, 7),
                   AttentionVariant::Microsoft);
  case OpKind::MultiHeadAttention: // query, key, value, bias
    return variant(rule(attentionForward, attentionBackward, 0b1111),
                   AttentionVariant::MultiHead);
  case OpKind::GroupQueryAttention:
    return unsupported("GroupQueryAttention (rotary embeddings, KV cache) is not "
                       "implemented in the probe");

  case OpKind::SoftmaxCrossEntropyLoss:
    return variant(rule(lossForward, lossBackward, 1), LossVariant::SoftmaxCrossEntropy);
  case OpKind::NegativeLogLikelihoodLoss:
    return variant(rule(lossForward, lossBackward, 1),
                   LossVariant::NegativeLogLikelihood);

  case OpKind::Unknown:
    return unsupported("the op is not in gradlint's op set");
  }
  return unsupported("the op is not in gradlint's op set");
}

} // namespace

const OpRule &gradlint::probe::ruleFor(const Node &N) {
  static const std::vector<OpRule> Table = [] {
    std::vector<OpRule> T;
    for (unsigned K = 0; K <= NumOpKinds; ++K)
      T.push_back(makeRule(static_cast<OpKind>(K)));
    return T;
  }();
  return Table[static_cast<unsigned>(N.Kind)];
}
