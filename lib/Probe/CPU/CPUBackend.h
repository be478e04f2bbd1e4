//===- CPUBackend.h - the reference backend (private) -----------*- C++ -*-===//
//
// Float32 kernels on the host: OpenBLAS for matrix products, a small thread
// pool for everything else. Each op family's forward and gradient kernels
// live side by side in CPU/<Family>.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_PROBE_CPU_CPUBACKEND_H
#define GRADLINT_LIB_PROBE_CPU_CPUBACKEND_H

#include "gradlint/Probe/Backend.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include <map>
#include <memory>
#include <mutex>

namespace llvm {
class ThreadPool;
}

namespace gradlint::probe::cpu {

template <typename T> T *at(DevPtr<T> P) {
  return static_cast<T *>(P.Base) + P.Offset;
}

/// Splits [0, N) into contiguous ranges and runs them on the pool and the
/// calling thread. Work is never split in a way that changes results:
/// reductions use fixedBlocks() below.
class Parallel {
public:
  explicit Parallel(unsigned Threads);
  ~Parallel();
  unsigned threads() const { return Threads; }
  /// Runs Fn(Begin, End); ranges of at least Grain items.
  void forRange(int64_t N, int64_t Grain,
                llvm::function_ref<void(int64_t, int64_t)> Fn);

private:
  unsigned Threads;
  std::unique_ptr<llvm::ThreadPool> Pool;
};

/// Reduction blocks: a fixed block size independent of the thread count, so
/// per-block partial sums combined in block order give identical results for
/// any number of threads.
constexpr int64_t ReduceBlock = 8192;

class CPUBackend final : public Backend {
public:
  CPUBackend(unsigned Threads, uint64_t MemoryBudget);
  ~CPUBackend() override;
  llvm::StringRef name() const override { return "cpu"; }

  llvm::Expected<DeviceBuffer> allocate(uint64_t Bytes) override;
  void release(DeviceBuffer B) override;
  void upload(void *DstBase, uint64_t DstByteOffset, const void *Src,
              uint64_t Bytes) override;
  void download(void *Dst, const void *SrcBase, uint64_t SrcByteOffset,
                uint64_t Bytes) override;
  const void *hostAddress(const void *Base) const override { return Base; }
  void synchronize() override {}
  void fill(FPtr Dst, int64_t N, float Value) override;

  void unary(UnaryOp Op, const UnaryParams &P, FPtr X, FPtr Y,
             int64_t N) override;
  void unaryGrad(UnaryOp Op, const UnaryParams &P, FPtr X, FPtr Y, FPtr DY,
                 FPtr DX, int64_t N, bool Acc) override;
  void binary(BinaryOp Op, const BroadcastDesc &D, FPtr A, FPtr B,
              FPtr Y) override;
  void binaryGrad(BinaryOp Op, const BroadcastDesc &D, FPtr A, FPtr B, FPtr Y,
                  FPtr DY, FPtr GA, bool AccA, FPtr GB, bool AccB) override;
  void where(const BroadcastDesc &D, MPtr Cond, FPtr A, FPtr B,
             FPtr Y) override;
  void whereGrad(const BroadcastDesc &D, MPtr Cond, FPtr DY, FPtr GA,
                 bool AccA, FPtr GB, bool AccB) override;

  void gemm(const GemmDesc &D, FPtr A, FPtr B, FPtr C) override;

  void softmax(const SoftmaxDesc &D, FPtr X, FPtr Y) override;
  void softmaxGrad(const SoftmaxDesc &D, FPtr Y, FPtr DY, FPtr DX,
                   bool Acc) override;

  void norm(const NormDesc &D, FPtr X, FPtr Gamma, FPtr Beta, FPtr Y,
            FPtr Mean, FPtr InvStd) override;
  void normGrad(const NormDesc &D, FPtr X, FPtr Gamma, FPtr Mean, FPtr InvStd,
                FPtr DY, FPtr DX, bool AccX, FPtr DGamma, FPtr DBeta,
                bool AccParams) override;

  void reduce(const ReduceDesc &D, FPtr X, FPtr Y, bool Acc) override;
  void reduceMaxGrad(const ReduceDesc &D, FPtr X, FPtr Y, FPtr DY, FPtr DX,
                     bool Acc) override;
  double sumSquares(FPtr X, int64_t Rows, int64_t Cols, int64_t Ld) override;
  double dot(FPtr A, FPtr B, int64_t N) override;

  void copy(const CopyDesc &D, FPtr Src, FPtr Dst, bool Acc) override;
  void trilu(const TriluDesc &D, FPtr X, FPtr Y, bool Acc) override;

  void gather(const GatherDesc &D, FPtr X, IPtr Idx, FPtr Y) override;
  void gatherGrad(const GatherDesc &D, IPtr Idx, FPtr DY, FPtr DX,
                  bool Acc) override;
  void gatherFlat(FPtr X, IPtr Offsets, FPtr Y, int64_t N) override;
  void gatherFlatGrad(IPtr Offsets, FPtr DY, FPtr DX, int64_t N, int64_t XSize,
                      bool Acc) override;

  void crossEntropy(int64_t Rows, int64_t Classes, FPtr Logits, IPtr Targets,
                    FPtr RowLoss, FPtr DLogits, float Scale) override;
  void nll(const NllDesc &D, FPtr LogProb, IPtr Target, FPtr Weight, FPtr Loss,
           FPtr W) override;
  void nllGrad(const NllDesc &D, IPtr Target, FPtr W, FPtr DLoss,
               FPtr DLogProb, bool Acc) override;
  double sgdUpdate(FPtr W, FPtr G, int64_t N, float Lr) override;
  double adamUpdate(FPtr W, FPtr G, FPtr M, FPtr V, int64_t N,
                    const AdamParams &P) override;

  Parallel &parallel() { return Par; }
  /// Sums F(Begin, End) (a double partial per fixed block) in block order.
  double blockSum(int64_t N, llvm::function_ref<double(int64_t, int64_t)> F);

private:
  Parallel Par;
  std::mutex CacheLock;
  std::multimap<uint64_t, void *> Cache; ///< freed blocks by size, for reuse
  uint64_t Held = 0;  ///< bytes allocated and not freed (cached ones too)
  uint64_t Budget;    ///< bytes held past which allocate() is an error
};

} // namespace gradlint::probe::cpu

#endif
