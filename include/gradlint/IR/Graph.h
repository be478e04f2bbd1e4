//===- Graph.h - gradlint's graph IR ----------------------------*- C++ -*-===//
//
// The model as gradlint sees it: values (SSA tensors), nodes, initializers as
// views over the model's bytes, attributes. No protobuf or Boost types here.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_IR_GRAPH_H
#define GRADLINT_IR_GRAPH_H

#include "gradlint/IR/DataType.h"
#include "gradlint/IR/Ops.h"
#include "gradlint/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gradlint {

using ValueId = uint32_t;
using NodeId = uint32_t;
/// An absent optional input, a value with no producer, and so on.
constexpr uint32_t NoId = ~0u;

/// One dimension of a declared (model-written) shape.
struct DimSpec {
  int64_t Size = -1;  ///< >= 0 when the model gives a number
  std::string Symbol; ///< dim_param when it gives a name
  bool isKnown() const { return Size >= 0; }
};

enum class AttrKind : uint8_t {
  Undefined,
  Float,
  Int,
  String,
  Tensor,
  Graph,
  Floats,
  Ints,
  Strings,
  Other, ///< tensors, graphs, sparse tensors, type protos: kept by name only
};

struct Attribute {
  std::string Name;
  AttrKind Kind = AttrKind::Undefined;
  float F = 0;
  int64_t I = 0;
  std::string S;
  std::vector<float> Floats;
  std::vector<int64_t> Ints;
  std::vector<std::string> Strings;
  int32_t Tensor = -1; ///< index into Graph::Tensors for AttrKind::Tensor
};

struct Node {
  std::string Name; ///< never empty: the loader names anonymous nodes
  std::string OpType;
  std::string Domain;
  OpKind Kind = OpKind::Unknown;
  int64_t Opset = 0; ///< version of the node's domain in the model
  llvm::SmallVector<ValueId, 4> Inputs; ///< NoId for an omitted optional input
  llvm::SmallVector<ValueId, 2> Outputs;
  std::vector<Attribute> Attrs;
  unsigned Subgraphs = 0; ///< graph-valued attributes (If/Loop/Scan bodies)

  const Attribute *attr(llvm::StringRef N) const;
  int64_t getInt(llvm::StringRef N, int64_t Default) const;
  float getFloat(llvm::StringRef N, float Default) const;
  llvm::StringRef getString(llvm::StringRef N, llvm::StringRef Default) const;
  /// The ints of an attribute, or an empty list when absent.
  llvm::ArrayRef<int64_t> getInts(llvm::StringRef N) const;
  /// Input I, or NoId when absent.
  ValueId input(unsigned I) const { return I < Inputs.size() ? Inputs[I] : NoId; }
};

struct Value {
  std::string Name;
  DataType Type = DataType::Undefined;
  bool HasDeclaredShape = false;
  llvm::SmallVector<DimSpec, 4> DeclaredShape;
  NodeId Producer = NoId;
  llvm::SmallVector<NodeId, 2> Users;
  int32_t Initializer = -1; ///< index into Graph::Tensors
  bool IsInput = false;     ///< a graph input that is not an initializer
  bool IsOutput = false;
  /// "sequence", "optional", "map" or "sparse tensor" for non-tensor values.
  std::string NonTensorKind;

  // Filled by shape inference (Shape/ShapeInference.h).
  bool HasShape = false;
  Dims Shape;
  /// Host value when shape inference could fold it (shape arithmetic, small constants).
  std::shared_ptr<const HostTensor> Const;

  bool isParameterCandidate() const {
    return Initializer >= 0 && isFloatingPoint(Type);
  }
};

class Graph {
public:
  std::string Name;
  std::vector<Node> Nodes;
  std::vector<Value> Values;
  /// Initializers first (in file order), then Constant-attribute tensors.
  std::vector<TensorData> Tensors;
  std::vector<ValueId> Inputs;       ///< graph inputs that are not initializers
  std::vector<ValueId> Outputs;
  std::vector<ValueId> Initializers; ///< values backed by an initializer
  /// Nodes in a topological order (stable: file order among independent nodes).
  std::vector<NodeId> Order;

  ValueId findValue(llvm::StringRef Name) const;
  const TensorData *initializer(ValueId V) const {
    return V == NoId || Values[V].Initializer < 0
               ? nullptr
               : &Tensors[Values[V].Initializer];
  }
  /// Adds (or finds) a value by name.
  ValueId getOrAddValue(llvm::StringRef Name);

  /// Links users, checks single assignment, dangling inputs and cycles, and
  /// computes Order. Messages name the offending value or node.
  llvm::Error finalize();

private:
  llvm::StringMap<ValueId> ByName;
};

struct ModelInfo {
  std::string Path;
  std::string Producer;
  std::string ProducerVersion;
  std::string Domain;
  std::string DocString;
  int64_t IrVersion = 0;
  int64_t ModelVersion = 0;
  std::map<std::string, int64_t> Opsets; ///< "" is the default domain
  uint64_t FileBytes = 0;
  uint64_t ExternalBytes = 0; ///< initializer bytes stored in external files
  /// The default-domain opset version, 0 when the model imports none.
  int64_t onnxOpset() const;
};

/// A loaded model. Keeps alive whatever the tensor views point into.
class Model {
public:
  ModelInfo Info;
  Graph G;
  /// Owners of the memory behind TensorData::Bytes (parsed protobuf, mmaps).
  std::vector<std::shared_ptr<const void>> Storage;
};

} // namespace gradlint

#endif
