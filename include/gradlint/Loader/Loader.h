//===- Loader.h - reading ONNX models safely --------------------*- C++ -*-===//
//
// The only door from bytes on disk into the IR. Every malformed, truncated or
// hostile input becomes an llvm::Error whose message starts with the file's
// path; nothing here aborts, throws or allocates what a file merely claims.
// Limits are documented in docs/limits.md.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LOADER_LOADER_H
#define GRADLINT_LOADER_LOADER_H

#include "gradlint/IR/Graph.h"
#include <memory>

namespace gradlint {

struct LoadLimits {
  /// Protobuf refuses messages of 2 GiB or more; larger models must keep
  /// their weights in external data files.
  uint64_t MaxModelBytes = (uint64_t(1) << 31) - 1;
  uint64_t MaxNodes = 1000000;
  uint64_t MaxValues = 4000000;
  /// Largest element count of one tensor (2^36, 256 GiB of float32).
  uint64_t MaxTensorElements = uint64_t(1) << 36;
  unsigned MaxRank = 32;
  /// Depth of graph-valued attributes (If/Loop/Scan bodies) nested in nodes.
  unsigned MaxSubgraphDepth = 16;
  /// IR versions accepted: 3 (ONNX 1.0, the first with opset imports) to 13.
  int64_t MinIrVersion = 3;
  int64_t MaxIrVersion = 13;
};

/// Loads a model file and builds its graph (users linked, topologically
/// ordered). Shapes are not inferred here: see Shape/ShapeInference.h.
llvm::Expected<std::unique_ptr<Model>> loadModel(llvm::StringRef Path,
                                                 const LoadLimits &Limits = {});

/// A tensor read from a serialized onnx.TensorProto file (.pb), with the
/// storage it points into.
struct LoadedTensor {
  TensorData Tensor;
  std::shared_ptr<const void> Storage;
};

/// Reads one TensorProto file, as the ONNX node tests and `--input` use.
llvm::Expected<LoadedTensor> loadTensorFile(llvm::StringRef Path,
                                            const LoadLimits &Limits = {});

/// Resolves an external-data location against the model's directory:
/// refuses empty, absolute and escaping paths and symlinks that lead out.
/// Returns the real path of the data file. Exposed for tests.
llvm::Expected<std::string> resolveExternalPath(llvm::StringRef ModelDir,
                                                llvm::StringRef Location);

} // namespace gradlint

#endif
