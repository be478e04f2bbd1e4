//===- DataType.h - ONNX tensor element types -------------------*- C++ -*-===//
#ifndef GRADLINT_IR_DATATYPE_H
#define GRADLINT_IR_DATATYPE_H

#include "llvm/ADT/StringRef.h"
#include <cstdint>

namespace gradlint {

/// ONNX TensorProto.DataType, numbered as in onnx.proto (including the types
/// newer than Debian's onnx 1.12, which only round-trip as integers there).
enum class DataType : int32_t {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
  Float8E4M3FN = 17,
  Float8E4M3FNUZ = 18,
  Float8E5M2 = 19,
  Float8E5M2FNUZ = 20,
  UInt4 = 21,
  Int4 = 22,
  Float4E2M1 = 23,
  Float8E8M0 = 24,
  UInt2 = 25,
  Int2 = 26,
};

/// Largest DataType value gradlint accepts.
constexpr int32_t MaxDataTypeValue = 26;

bool isValidDataType(int32_t V);
/// Bits one element occupies in raw_data (0 for String and Undefined).
unsigned elementBits(DataType T);
/// Bytes that N elements occupy in raw_data (sub-byte types are packed); false on overflow.
bool storageBytes(DataType T, uint64_t N, uint64_t &Bytes);
bool isFloatingPoint(DataType T);
bool isInteger(DataType T);
llvm::StringRef dataTypeName(DataType T);

} // namespace gradlint

#endif
