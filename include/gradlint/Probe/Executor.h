//===- Executor.h - runs an ONNX graph forward and backward -----*- C++ -*-===//
//
// gradlint's own executor (DESIGN §5): float values live in a Backend's
// memory and are computed in float32 by its kernels; integer and bool values
// (shape arithmetic, token ids, masks) live on the host, taken from the
// constants shape inference folded (Value::Const) or evaluated there.
// Reverse-mode autodiff runs over the same graph: every float initializer
// that a differentiable path from the loss output reaches gets a gradient.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_PROBE_EXECUTOR_H
#define GRADLINT_PROBE_EXECUTOR_H

#include "gradlint/IR/Graph.h"
#include "gradlint/Probe/Backend.h"
#include <functional>
#include <map>
#include <memory>

namespace gradlint::probe {

/// Live and peak bytes of device memory the executor holds.
struct MemoryCounter {
  uint64_t Live = 0, Peak = 0;
};

/// One backend allocation; released when the last tensor using it goes.
class DeviceAllocation {
public:
  DeviceAllocation(Backend &B, DeviceBuffer Buf, MemoryCounter &Counter);
  ~DeviceAllocation();
  DeviceAllocation(const DeviceAllocation &) = delete;
  DeviceAllocation &operator=(const DeviceAllocation &) = delete;
  void *base() const { return Buf.Base; }

private:
  Backend &B;
  DeviceBuffer Buf;
  MemoryCounter &Counter;
  uint64_t Bytes;
};

/// A dense row-major float32 tensor in device memory (possibly a view that
/// shares its allocation with another tensor).
struct Tensor {
  std::shared_ptr<DeviceAllocation> Buf;
  int64_t Offset = 0; ///< in elements
  Dims Shape;

  explicit operator bool() const { return Buf != nullptr; }
  int64_t size() const;
  FPtr ptr() const { return {Buf ? Buf->base() : nullptr, Offset}; }
  /// The same memory with another shape of the same size.
  Tensor view(llvm::ArrayRef<int64_t> NewShape) const;
};

/// Integer data in device memory (indices, targets) or bytes (masks).
struct DeviceArray {
  std::shared_ptr<DeviceAllocation> Buf;
  int64_t Size = 0;
  IPtr ints() const { return {Buf ? Buf->base() : nullptr, 0}; }
  MPtr bytes() const { return {Buf ? Buf->base() : nullptr, 0}; }
};

/// Called on the host with each float value the forward pass produces
/// (graph inputs and node outputs; not initializers).
using ForwardValueHook =
    std::function<void(ValueId, const float *Data, llvm::ArrayRef<int64_t> Shape)>;

struct ExecutorOptions {
  /// Prepare for backward(): keep what gradients need.
  bool Gradients = true;
  /// The outputs backward() will be seeded at; empty means the first one.
  std::vector<ValueId> LossOutputs;
  /// Record the gradient norm of every non-initializer float value.
  bool ActivationGradients = false;
  /// Keep every value after forward() (tests use fetch() on any of them);
  /// otherwise only graph outputs survive.
  bool KeepAllValues = false;
  /// Run each decomposed LayerNorm/RMSNorm that structure recovery finds
  /// (ReduceMean, Sub, Pow, ..., Div, then γ and β) as one normalization
  /// kernel, as runtimes fuse it: fewer passes, and one float32 rounding
  /// where the written-out chain rounds at every op (its x − mean and the
  /// paths back through the mean and variance cancel; on large-init models
  /// that alone moves gradients by 1e-4). Values inside the pattern are then
  /// not computed. Off with KeepAllValues.
  bool FuseNorms = true;
  ForwardValueHook OnForwardValue;
};

class OpContext;

class Executor {
public:
  /// M must have inferred shapes (call inferShapes with the integer graph
  /// inputs as known values first); B must outlive the executor. Errors name
  /// the first node the probe cannot run and why.
  static llvm::Expected<std::unique_ptr<Executor>>
  create(const Model &M, Backend &B, ExecutorOptions Options = {});
  ~Executor();

  /// Binds a floating-point graph input (row-major, its inferred shape).
  llvm::Error setInput(ValueId V, llvm::ArrayRef<float> Data);
  /// Binds an integer or bool graph input (already given to inferShapes).
  llvm::Error setInput(ValueId V, std::shared_ptr<const HostTensor> Data);

  /// Runs every node in topological order.
  llvm::Error forward();
  /// The device value of a float value kept after forward(), or null.
  const Tensor *value(ValueId V) const;
  /// A host copy of a kept value (floats in Reals, as double).
  llvm::Expected<HostTensor> fetch(ValueId V);

  /// Runs reverse-mode autodiff from dL/dOutput = Seed.
  llvm::Error backward(ValueId Output, Tensor Seed);
  /// dL/dV after backward() for parameters (and activations if recorded).
  const Tensor *gradient(ValueId V) const;
  /// Drops every gradient (before the next backward()).
  void clearGradients();
  /// Float initializers the loss reaches through differentiable ops.
  llvm::ArrayRef<ValueId> parameters() const;
  /// The device copy of an initializer; optimizers update it in place.
  Tensor *initializer(ValueId V);
  /// ‖dL/dV‖ of non-initializer float values, with ActivationGradients.
  const std::map<ValueId, double> &activationGradNorms() const;

  llvm::Expected<Tensor> allocate(llvm::ArrayRef<int64_t> Shape);
  llvm::Expected<DeviceArray> uploadInts(llvm::ArrayRef<int64_t> Data);
  Backend &backend();
  const MemoryCounter &memory() const;

private:
  explicit Executor(std::unique_ptr<OpContext> C);
  std::unique_ptr<OpContext> C;
};

} // namespace gradlint::probe

#endif
