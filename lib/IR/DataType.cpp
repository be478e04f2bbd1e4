//===- DataType.cpp -------------------------------------------------------===//
#include "gradlint/IR/DataType.h"

using namespace gradlint;

bool gradlint::isValidDataType(int32_t V) {
  return V > 0 && V <= MaxDataTypeValue;
}

unsigned gradlint::elementBits(DataType T) {
  switch (T) {
  case DataType::Undefined:
  case DataType::String:
    return 0;
  case DataType::UInt2:
  case DataType::Int2:
    return 2;
  case DataType::UInt4:
  case DataType::Int4:
  case DataType::Float4E2M1:
    return 4;
  case DataType::Bool:
  case DataType::UInt8:
  case DataType::Int8:
  case DataType::Float8E4M3FN:
  case DataType::Float8E4M3FNUZ:
  case DataType::Float8E5M2:
  case DataType::Float8E5M2FNUZ:
  case DataType::Float8E8M0:
    return 8;
  case DataType::UInt16:
  case DataType::Int16:
  case DataType::Float16:
  case DataType::BFloat16:
    return 16;
  case DataType::Float:
  case DataType::Int32:
  case DataType::UInt32:
    return 32;
  case DataType::Double:
  case DataType::Int64:
  case DataType::UInt64:
  case DataType::Complex64:
    return 64;
  case DataType::Complex128:
    return 128;
  }
  return 0;
}

bool gradlint::storageBytes(DataType T, uint64_t N, uint64_t &Bytes) {
  uint64_t Bits = elementBits(T);
  if (Bits == 0)
    return false;
  if (N > UINT64_MAX / Bits)
    return false;
  Bytes = (N * Bits + 7) / 8;
  return true;
}

bool gradlint::isFloatingPoint(DataType T) {
  switch (T) {
  case DataType::Float:
  case DataType::Double:
  case DataType::Float16:
  case DataType::BFloat16:
  case DataType::Float8E4M3FN:
  case DataType::Float8E4M3FNUZ:
  case DataType::Float8E5M2:
  case DataType::Float8E5M2FNUZ:
  case DataType::Float8E8M0:
  case DataType::Float4E2M1:
    return true;
  default:
    return false;
  }
}

bool gradlint::isInteger(DataType T) {
  switch (T) {
  case DataType::UInt8:
  case DataType::Int8:
  case DataType::UInt16:
  case DataType::Int16:
  case DataType::Int32:
  case DataType::Int64:
  case DataType::UInt32:
  case DataType::UInt64:
  case DataType::Bool:
  case DataType::UInt4:
  case DataType::Int4:
  case DataType::UInt2:
  case DataType::Int2:
    return true;
  default:
    return false;
  }
}

llvm::StringRef gradlint::dataTypeName(DataType T) {
  switch (T) {
  case DataType::Undefined: return "undefined";
  case DataType::Float: return "float32";
  case DataType::UInt8: return "uint8";
  case DataType::Int8: return "int8";
  case DataType::UInt16: return "uint16";
  case DataType::Int16: return "int16";
  case DataType::Int32: return "int32";
  case DataType::Int64: return "int64";
  case DataType::String: return "string";
  case DataType::Bool: return "bool";
  case DataType::Float16: return "float16";
  case DataType::Double: return "float64";
  case DataType::UInt32: return "uint32";
  case DataType::UInt64: return "uint64";
  case DataType::Complex64: return "complex64";
  case DataType::Complex128: return "complex128";
  case DataType::BFloat16: return "bfloat16";
  case DataType::Float8E4M3FN: return "float8e4m3fn";
  case DataType::Float8E4M3FNUZ: return "float8e4m3fnuz";
  case DataType::Float8E5M2: return "float8e5m2";
  case DataType::Float8E5M2FNUZ: return "float8e5m2fnuz";
  case DataType::UInt4: return "uint4";
  case DataType::Int4: return "int4";
  case DataType::Float4E2M1: return "float4e2m1";
  case DataType::Float8E8M0: return "float8e8m0";
  case DataType::UInt2: return "uint2";
  case DataType::Int2: return "int2";
  }
  return "undefined";
}
