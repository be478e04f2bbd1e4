//===- ShapeInference.h - concrete shapes for every value -------*- C++ -*-===//
//
// gradlint analyses one concrete shape. Symbolic dimensions of the graph
// inputs are bound (user `--dim NAME=VALUE`, else the DESIGN §3 defaults),
// then shapes flow forward through the op rules, folding small integer
// subgraphs (Shape -> Gather -> Concat -> Reshape) on the host as they go.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_SHAPE_SHAPEINFERENCE_H
#define GRADLINT_SHAPE_SHAPEINFERENCE_H

#include "gradlint/IR/Graph.h"
#include <map>
#include <string>
#include <vector>

namespace gradlint {

/// User bindings of symbolic dimensions, from `--dim NAME=VALUE`.
using DimBindings = std::map<std::string, int64_t>;

/// Parses "NAME=VALUE" (VALUE a positive integer) into Out.
llvm::Error parseDimBinding(llvm::StringRef Text, DimBindings &Out);

/// The DESIGN §3 default for an unbound symbol: names like batch bind to 1,
/// names like sequence or length to 128; anything else has none (returns -1).
int64_t defaultDimValue(llvm::StringRef Symbol);

struct ShapeReport {
  /// Every symbol met on the graph inputs, with the value used.
  std::map<std::string, int64_t> Dims;
  /// The subset of Dims that came from defaults rather than the user.
  std::vector<std::string> Defaulted;
  /// Values (non-empty names) whose shape stayed unknown, in value order.
  std::vector<ValueId> Unknown;
  /// For the first unknown output of a node: why (one line per node).
  std::vector<std::pair<NodeId, std::string>> Reasons;
};

/// Values of graph inputs known in advance (the probe's generated inputs, a
/// test's .pb files); integer inputs feeding shape arithmetic then fold.
using InputValues = std::map<std::string, std::shared_ptr<const HostTensor>>;

/// Fills Value::Shape/HasShape/Const for every value it can. Errors: an
/// unbound symbolic input dimension (named), or a contradiction between
/// shapes (naming the node).
llvm::Expected<ShapeReport> inferShapes(Model &M, const DimBindings &User,
                                        const InputValues &Known = {});

/// Folds one node on the host when all its inputs are known constants and
/// small; returns the outputs, or an empty vector when it cannot.
std::vector<std::shared_ptr<const HostTensor>>
foldNode(const Graph &G, const Node &N,
         llvm::ArrayRef<std::shared_ptr<const HostTensor>> Inputs);

/// Host tensor of an initializer or Constant tensor when small enough to fold
/// (at most MaxFoldElements elements).
std::shared_ptr<const HostTensor> hostTensorOf(const TensorData &T);
constexpr uint64_t MaxFoldElements = 1 << 16;

/// Broadcasts two shapes by the numpy rule; false when incompatible.
bool broadcastShapes(llvm::ArrayRef<int64_t> A, llvm::ArrayRef<int64_t> B,
                     Dims &Out);

std::string formatShape(llvm::ArrayRef<int64_t> Shape);

} // namespace gradlint

#endif
