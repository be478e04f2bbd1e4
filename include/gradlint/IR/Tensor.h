//===- Tensor.h - read-only tensor views and small host tensors -*- C++ -*-===//
#ifndef GRADLINT_IR_TENSOR_H
#define GRADLINT_IR_TENSOR_H

#include "gradlint/IR/DataType.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <string>
#include <vector>

namespace gradlint {

using Dims = llvm::SmallVector<int64_t, 4>;

/// Product of dimensions; false on overflow or a negative dimension.
bool numElements(llvm::ArrayRef<int64_t> Shape, uint64_t &N);

/// A read-only view of a tensor stored in the model: an initializer or a
/// Constant's value. Bytes use ONNX raw_data layout (little-endian, sub-byte
/// types packed); they point into memory the Model keeps alive (the parsed
/// protobuf or a memory-mapped external-data file), so nothing is copied.
struct TensorData {
  std::string Name;
  DataType Type = DataType::Undefined;
  Dims Shape;
  uint64_t NumElements = 0;
  llvm::ArrayRef<uint8_t> Bytes;
  bool External = false;

  /// Converts every element to double; false for types with no numeric
  /// reading here (string, complex, float8, 4- and 2-bit types).
  bool toDoubles(std::vector<double> &Out) const;
  /// Converts to float32 (same coverage as toDoubles).
  bool toFloats(std::vector<float> &Out) const;
  /// Reads integer and bool types; false otherwise.
  bool toInt64s(std::vector<int64_t> &Out) const;
};

/// A small tensor computed on the host: folded shape arithmetic and small
/// constants. Integer and bool types fill Ints, floating types fill Reals.
struct HostTensor {
  DataType Type = DataType::Undefined;
  Dims Shape;
  std::vector<int64_t> Ints;
  std::vector<double> Reals;

  bool isInteger() const { return !isFloatingPoint(Type); }
  size_t size() const { return isInteger() ? Ints.size() : Reals.size(); }
  /// Element I as double, whichever storage holds it.
  double real(size_t I) const {
    return isInteger() ? static_cast<double>(Ints[I]) : Reals[I];
  }
  int64_t integer(size_t I) const {
    return isInteger() ? Ints[I] : static_cast<int64_t>(Reals[I]);
  }
};

/// IEEE half and bfloat16 to float.
float halfToFloat(uint16_t H);
float bfloat16ToFloat(uint16_t B);

} // namespace gradlint

#endif
