//===- Tensor.cpp - element conversions for tensor views ------------------===//
#include "gradlint/IR/Tensor.h"
#include <cstring>

using namespace gradlint;

bool gradlint::numElements(llvm::ArrayRef<int64_t> Shape, uint64_t &N) {
  N = 1;
  for (int64_t D : Shape) {
    if (D < 0)
      return false;
    if (D != 0 && N > UINT64_MAX / static_cast<uint64_t>(D))
      return false;
    N *= static_cast<uint64_t>(D);
  }
  return true;
}

float gradlint::halfToFloat(uint16_t H) {
  uint32_t Sign = (H & 0x8000u) << 16;
  uint32_t Exp = (H >> 10) & 0x1f;
  uint32_t Mant = H & 0x3ff;
  uint32_t Bits;
  if (Exp == 0) {
    if (Mant == 0) {
      Bits = Sign;
    } else { // subnormal: renormalize
      Exp = 127 - 15 + 1;
      while (!(Mant & 0x400)) {
        Mant <<= 1;
        --Exp;
      }
      Mant &= 0x3ff;
      Bits = Sign | (Exp << 23) | (Mant << 13);
    }
  } else if (Exp == 0x1f) {
    Bits = Sign | 0x7f800000u | (Mant << 13);
  } else {
    Bits = Sign | ((Exp - 15 + 127) << 23) | (Mant << 13);
  }
  float F;
  std::memcpy(&F, &Bits, 4);
  return F;
}

float gradlint::bfloat16ToFloat(uint16_t B) {
  uint32_t Bits = static_cast<uint32_t>(B) << 16;
  float F;
  std::memcpy(&F, &Bits, 4);
  return F;
}

namespace {
template <typename T> T load(const uint8_t *P) {
  T V;
  std::memcpy(&V, P, sizeof(T));
  return V;
}

/// Calls Fn(double) for each element; false for types without a numeric reading.
template <typename Fn> bool forEachReal(const TensorData &T, Fn &&F) {
  const uint8_t *P = T.Bytes.data();
  uint64_t N = T.NumElements;
  uint64_t Need;
  if (!storageBytes(T.Type, N, Need) || T.Bytes.size() < Need)
    return false;
  switch (T.Type) {
  case DataType::Float:
    for (uint64_t I = 0; I != N; ++I) F(load<float>(P + 4 * I));
    return true;
  case DataType::Double:
    for (uint64_t I = 0; I != N; ++I) F(load<double>(P + 8 * I));
    return true;
  case DataType::Float16:
    for (uint64_t I = 0; I != N; ++I) F(halfToFloat(load<uint16_t>(P + 2 * I)));
    return true;
  case DataType::BFloat16:
    for (uint64_t I = 0; I != N; ++I) F(bfloat16ToFloat(load<uint16_t>(P + 2 * I)));
    return true;
  case DataType::Int8:
    for (uint64_t I = 0; I != N; ++I) F(load<int8_t>(P + I));
    return true;
  case DataType::UInt8:
  case DataType::Bool:
    for (uint64_t I = 0; I != N; ++I) F(load<uint8_t>(P + I));
    return true;
  case DataType::Int16:
    for (uint64_t I = 0; I != N; ++I) F(load<int16_t>(P + 2 * I));
    return true;
  case DataType::UInt16:
    for (uint64_t I = 0; I != N; ++I) F(load<uint16_t>(P + 2 * I));
    return true;
  case DataType::Int32:
    for (uint64_t I = 0; I != N; ++I) F(load<int32_t>(P + 4 * I));
    return true;
  case DataType::UInt32:
    for (uint64_t I = 0; I != N; ++I) F(load<uint32_t>(P + 4 * I));
    return true;
  case DataType::Int64:
    for (uint64_t I = 0; I != N; ++I) F(static_cast<double>(load<int64_t>(P + 8 * I)));
    return true;
  case DataType::UInt64:
    for (uint64_t I = 0; I != N; ++I) F(static_cast<double>(load<uint64_t>(P + 8 * I)));
    return true;
  default:
    return false;
  }
}
} // namespace

bool TensorData::toDoubles(std::vector<double> &Out) const {
  Out.clear();
  Out.reserve(NumElements);
  return forEachReal(*this, [&](double V) { Out.push_back(V); });
}

bool TensorData::toFloats(std::vector<float> &Out) const {
  Out.clear();
  Out.reserve(NumElements);
  return forEachReal(*this, [&](double V) { Out.push_back(static_cast<float>(V)); });
}

bool TensorData::toInt64s(std::vector<int64_t> &Out) const {
  Out.clear();
  if (!isInteger(Type))
    return false;
  uint64_t Need;
  if (!storageBytes(Type, NumElements, Need) || Bytes.size() < Need)
    return false;
  if (Type == DataType::Int64) { // exact, beyond 2^53
    Out.resize(NumElements);
    std::memcpy(Out.data(), Bytes.data(), NumElements * 8);
    return true;
  }
  Out.reserve(NumElements);
  return forEachReal(*this, [&](double V) { Out.push_back(static_cast<int64_t>(V)); });
}
