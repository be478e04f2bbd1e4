//===- Backend.cpp - the backend-neutral parts of the device interface ----===//
#include "gradlint/Probe/Backend.h"

using namespace gradlint::probe;

Backend::~Backend() = default;

int64_t BroadcastDesc::numElements() const {
  int64_t N = 1;
  for (unsigned I = 0; I != Rank; ++I)
    N *= Shape[I];
  return N;
}

int64_t CopyDesc::numElements() const {
  int64_t N = 1;
  for (unsigned I = 0; I != Rank; ++I)
    N *= Shape[I];
  return N;
}

UnaryNeeds gradlint::probe::unaryNeeds(UnaryOp Op) {
  switch (Op) {
  case UnaryOp::Identity:
  case UnaryOp::Affine:
  case UnaryOp::Neg:
  case UnaryOp::Ceil:
  case UnaryOp::Floor:
  case UnaryOp::RoundHalf:
  case UnaryOp::RoundBFloat16:
    return {false, false};
  case UnaryOp::Sqrt:
  case UnaryOp::Reciprocal:
  case UnaryOp::Exp:
  case UnaryOp::Tanh:
  case UnaryOp::Sigmoid:
  case UnaryOp::Relu:
  case UnaryOp::Softcap:
    return {false, true};
  case UnaryOp::Abs:
  case UnaryOp::Log:
  case UnaryOp::Erf:
  case UnaryOp::LeakyRelu:
  case UnaryOp::Elu:
  case UnaryOp::Selu:
  case UnaryOp::Softplus:
  case UnaryOp::Mish:
  case UnaryOp::HardSigmoid:
  case UnaryOp::Clip:
  case UnaryOp::Gelu:
  case UnaryOp::GeluTanh:
  case UnaryOp::QuickGelu:
    return {true, false};
  }
  return {true, true};
}
