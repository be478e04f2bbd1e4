//===- OpContext.h - what an op rule sees of the executor -------*- C++ -*-===//
//
// Op rules (Ops/<Family>.cpp) lower one ONNX node to backend kernels, forward
// and backward. They read inputs, write outputs, save what their gradient
// needs, and add gradients into their inputs through this context; the
// executor (Executor.cpp) owns values, gradients and their lifetimes.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_PROBE_OPCONTEXT_H
#define GRADLINT_LIB_PROBE_OPCONTEXT_H

#include "gradlint/Probe/Executor.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/Twine.h"
#include <deque>
#include <set>

namespace gradlint::probe {

using HostPtr = std::shared_ptr<const HostTensor>;
struct OpRule;

class OpContext {
public:
  OpContext(const Model &M, Backend &B, ExecutorOptions O);
  ~OpContext();
  llvm::Error init();

  const Graph &G;
  Backend &B;

  //--- Forward --------------------------------------------------------------
  const Dims &shape(ValueId V) const { return G.Values[V].Shape; }
  const Dims &inShape(const Node &N, unsigned I) const {
    return shape(N.input(I));
  }
  const Dims &outShape(const Node &N, unsigned I) const {
    return shape(N.Outputs[I]);
  }
  bool has(const Node &N, unsigned I) const { return N.input(I) != NoId; }
  bool isFloat(ValueId V) const;
  /// Whether input I is held on the host (integer data, folded constants).
  bool onHost(const Node &N, unsigned I) const;
  /// Input I as a float device tensor (host values are converted and uploaded).
  llvm::Expected<Tensor> in(const Node &N, unsigned I);
  /// Input I on the host (device floats are downloaded); null when absent.
  llvm::Expected<HostPtr> hostIn(const Node &N, unsigned I);
  llvm::Expected<Tensor> alloc(llvm::ArrayRef<int64_t> Shape);
  llvm::Expected<Tensor> allocOut(const Node &N, unsigned I) {
    return alloc(outShape(N, I));
  }
  llvm::Error out(const Node &N, unsigned I, Tensor T);
  void outHost(const Node &N, unsigned I, HostPtr H);
  /// Whether backward() will run this node's gradient.
  bool backwardNeeded(const Node &N) const;
  void save(const Node &N, Tensor T);
  void save(const Node &N, DeviceArray A);
  void save(const Node &N, HostPtr H);
  const Tensor &saved(const Node &N, unsigned I) const;
  const DeviceArray &savedArray(const Node &N, unsigned I) const;
  const HostPtr &savedHost(const Node &N, unsigned I) const;
  llvm::Expected<DeviceArray> uploadInts(llvm::ArrayRef<int64_t> Data);
  /// A bool (or any integer) host tensor as one byte per element, nonzero true.
  llvm::Expected<DeviceArray> uploadMask(const HostTensor &H);

  //--- Backward -------------------------------------------------------------
  /// dL/d(output I), or null when no gradient reached it.
  const Tensor *gradOut(const Node &N, unsigned I) const;
  /// Whether input I needs a gradient.
  bool needsGrad(const Node &N, unsigned I) const;
  struct GradTarget {
    Tensor T;
    bool Acc = false; ///< add into T (it holds other contributions)
  };
  /// The gradient buffer of input I; Zeroed fills a new one with 0 (for
  /// kernels that write only part of it) and returns Acc = true.
  llvm::Expected<GradTarget> gradIn(const Node &N, unsigned I,
                                    bool Zeroed = false);
  /// Adds Alpha * G (same number of elements as input I) into its gradient;
  /// the first contribution may alias G's memory instead of copying.
  llvm::Error passGrad(const Node &N, unsigned I, const Tensor &G,
                       float Alpha = 1);
  /// Adds Alpha * G summed over the dimensions input I was broadcast along.
  llvm::Error reduceGradInto(const Node &N, unsigned I, const Tensor &G,
                             float Alpha = 1);

  llvm::Error nodeError(const Node &N, const llvm::Twine &Msg) const;

  //--- Used by Executor -----------------------------------------------------
  struct Slot {
    Tensor F;    ///< float value on the device
    HostPtr H;   ///< integer/bool value, or a float constant not uploaded yet
    Tensor Grad; ///< dL/dV
  };
  std::vector<Slot> Slots;
  /// Per node: what runs in its place (the node itself, a fused norm at the
  /// pattern's last node) or null for nodes a fused norm absorbed.
  std::vector<const Node *> Exec;
  std::vector<const OpRule *> Rules; ///< per node
  std::vector<bool> Runs;            ///< per node: forward runs it
  std::vector<bool> RunsBackward;    ///< per node
  std::vector<uint32_t> Flows;       ///< per node: bit I, a gradient flows to input I
  std::vector<bool> NeedsGrad;       ///< per value
  std::vector<bool> FromConst;       ///< per value: taken from Value::Const
  std::vector<unsigned> Uses;        ///< per value: running consumers
  std::vector<bool> Keep;            ///< per value: survives forward()
  std::vector<bool> KeepHost;        ///< per value: a gradient rule reads it
  std::vector<ValueId> Params;
  std::map<ValueId, double> ActNorms;
  std::map<ValueId, Tensor> Initializers;
  MemoryCounter Memory;
  ExecutorOptions Opts;
  const Model &M;

  llvm::Error runForward();
  llvm::Error runBackward(ValueId Output, Tensor Seed);
  void reportValue(ValueId V, const Tensor &T);

private:
  struct Saved {
    std::vector<Tensor> Tensors;
    std::vector<DeviceArray> Arrays;
    std::vector<HostPtr> Hosts;
  };
  std::vector<Saved> SavedByNode;
  /// Allocations a gradient aliased during the current node's backward: one
  /// allocation backs at most one live gradient.
  std::set<const DeviceAllocation *> AliasedThisNode;
  /// Nodes made by fuseNorms(), and the NodeId each stands in for.
  std::deque<Node> FusedNodes;
  llvm::DenseMap<const Node *, NodeId> FusedIds;
  NodeId idOf(const Node &N) const;
  llvm::Error runHost(const Node &N);
  llvm::Error bindConstants();
  void fuseNorms();
  llvm::Error plan();
};

/// Float32 host copy of a host tensor (integers converted).
std::vector<float> toFloats(const HostTensor &H);

} // namespace gradlint::probe

#endif
