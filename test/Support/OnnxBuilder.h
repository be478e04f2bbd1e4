//===- OnnxBuilder.h - build exactly the ONNX model a test needs -*- C++ -*-===//
//
// Tests describe graphs with this builder and serialize them to real .onnx
// bytes, so every test goes through the same loader as users' files. The
// protobuf types stay in OnnxBuilder.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_TEST_ONNXBUILDER_H
#define GRADLINT_TEST_ONNXBUILDER_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace gradlint::test {

/// A dimension: a number or a symbolic name.
using Dim = std::variant<int64_t, std::string>;

/// An attribute value for node(): int, float, string, ints or floats.
using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>>;
using Attrs = std::map<std::string, AttrValue>;

class OnnxBuilder {
public:
  explicit OnnxBuilder(int64_t Opset = 17, int64_t IrVersion = 8);
  ~OnnxBuilder();
  OnnxBuilder(OnnxBuilder &&);

  OnnxBuilder &opset(const std::string &Domain, int64_t Version);
  OnnxBuilder &producer(const std::string &Name);
  OnnxBuilder &input(const std::string &Name, int32_t ElemType,
                     const std::vector<Dim> &Shape);
  /// An input with no shape at all.
  OnnxBuilder &inputNoShape(const std::string &Name, int32_t ElemType);
  OnnxBuilder &output(const std::string &Name, int32_t ElemType = 1);
  OnnxBuilder &output(const std::string &Name, int32_t ElemType,
                      const std::vector<Dim> &Shape);
  OnnxBuilder &valueInfo(const std::string &Name, int32_t ElemType,
                         const std::vector<Dim> &Shape);
  OnnxBuilder &floatInit(const std::string &Name, const std::vector<int64_t> &Dims,
                         const std::vector<float> &Values);
  OnnxBuilder &int64Init(const std::string &Name, const std::vector<int64_t> &Dims,
                         const std::vector<int64_t> &Values);
  /// An initializer with arbitrary data_type, dims and raw bytes (may lie).
  OnnxBuilder &rawInit(const std::string &Name, int32_t DataType,
                       const std::vector<int64_t> &Dims, const std::string &Raw);
  /// An initializer with its float values in float_data (typed field).
  OnnxBuilder &typedFloatInit(const std::string &Name,
                              const std::vector<int64_t> &Dims,
                              const std::vector<float> &Values);
  /// An initializer stored externally; an empty Offset or Length is left out.
  OnnxBuilder &externalInit(const std::string &Name, int32_t DataType,
                            const std::vector<int64_t> &Dims,
                            const std::string &Location,
                            const std::string &Offset = "",
                            const std::string &Length = "");
  OnnxBuilder &node(const std::string &OpType,
                    const std::vector<std::string> &Inputs,
                    const std::vector<std::string> &Outputs,
                    const Attrs &Attributes = {}, const std::string &Domain = "",
                    const std::string &Name = "");
  /// A Constant node whose value is a float tensor.
  OnnxBuilder &constantFloat(const std::string &Output,
                             const std::vector<int64_t> &Dims,
                             const std::vector<float> &Values);
  OnnxBuilder &constantInt64(const std::string &Output,
                             const std::vector<int64_t> &Dims,
                             const std::vector<int64_t> &Values);
  /// Wraps the last node's attribute "body" in N nested If subgraphs.
  OnnxBuilder &nestedSubgraphs(unsigned Depth);
  OnnxBuilder &irVersion(int64_t V);
  OnnxBuilder &clearOpsets();

  std::string serialize() const;
  /// Writes the model; returns the path.
  std::string writeTo(const std::string &Path) const;

private:
  struct Impl;
  std::unique_ptr<Impl> P;
};

/// Serializes a float32 TensorProto (as node tests and --input use).
std::string serializeFloatTensor(const std::string &Name,
                                 const std::vector<int64_t> &Dims,
                                 const std::vector<float> &Values);

/// A fresh, empty temporary directory for one test; removed by the caller.
std::string makeTempDir(const std::string &Tag);
void writeFile(const std::string &Path, const std::string &Bytes);

} // namespace gradlint::test

#endif
