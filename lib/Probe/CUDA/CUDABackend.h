//===- CUDABackend.h - the CUDA plugin's backend (private) ------*- C++ -*-===//
//
// The kernels of lib/Probe/CPU on one CUDA stream: cuBLAS for matrix
// products, the other families in CUDA/<Family>.cu, each computing what its
// CPU counterpart computes (sums in double, fixed summation orders, no float
// atomics), so results are deterministic and match the CPU within 1e-4.
//
// No CUDA header here (STYLE 12): handles are forward-declared, and the C++
// side of the plugin (Plugin.cpp) sees only this and Backend.h.
//
// Errors: the Backend interface returns llvm::Error only from allocate(), so a
// failed CUDA call is recorded (the first one, sticky) and reported by the
// next allocate(); where results reach the host (download, the reductions
// that return a double) a recorded error ends the process with one line and
// exit code 2, since no later result could be trusted. See docs/cuda.md.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_PROBE_CUDA_CUDABACKEND_H
#define GRADLINT_LIB_PROBE_CUDA_CUDABACKEND_H

#include "gradlint/Probe/Backend.h"
#include <string>

struct CUstream_st;
struct cublasContext;

namespace gradlint::probe::cuda {

template <typename T> T *at(DevPtr<T> P) {
  return static_cast<T *>(P.Base) + P.Offset;
}

class CUDABackend final : public Backend {
public:
  /// Starts the first visible device; null with the reason in Why when there
  /// is no driver, no device, or CUDA/cuBLAS cannot start.
  static CUDABackend *start(std::string &Why);
  ~CUDABackend() override;
  llvm::StringRef name() const override { return "cuda"; }

  llvm::Expected<DeviceBuffer> allocate(uint64_t Bytes) override;
  void release(DeviceBuffer B) override;
  void upload(void *DstBase, uint64_t DstByteOffset, const void *Src,
              uint64_t Bytes) override;
  void download(void *Dst, const void *SrcBase, uint64_t SrcByteOffset,
                uint64_t Bytes) override;
  void synchronize() override;
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

  //--- For the kernel files ---------------------------------------------------
  CUstream_st *stream() const { return Stream; }
  cublasContext *blas() const { return Blas; }
  /// Whether every CUDA call so far succeeded.
  bool ok() const { return Failure.empty(); }
  /// Records the first failure (Code is a cudaError_t); true on success.
  bool check(int Code, const char *What);
  bool checkBlas(int Status, const char *What);
  /// Records a failure that is not a CUDA status (a limit, a bad argument).
  void fail(const std::string &Why);
  /// Stream-ordered device scratch, freed with dropScratch; null on failure.
  void *scratch(uint64_t Bytes);
  void dropScratch(void *P);
  /// Enqueues a host-to-device copy through pinned staging memory: Src may
  /// be reused as soon as this returns, and the copy stays asynchronous.
  void stage(void *Dst, const void *Src, uint64_t Bytes);
  /// Pinned, device-writable slots that scalar reductions write into.
  double *resultSlots() const { return Results; }
  /// Device memory for N per-block partials of a scalar reduction (kept and
  /// grown), and the counter its blocks meet at (Common.cuh).
  double *scalarParts(int64_t N);
  unsigned *scalarCounter() const { return Counter; }
  /// Waits for the stream; a recorded failure ends the process here.
  void waitOrDie();
  /// Prints "gradlint: error: --device cuda: <failure>" and exits with 2.
  [[noreturn]] void die() const;

private:
  CUDABackend() = default;
  /// The recorded failure as an llvm::Error, or exits when errors cannot
  /// cross into the host program (Plugin.cpp).
  llvm::Error takeFailure();
  /// Device memory; null with a failure recorded (out of memory says so).
  void *allocateRaw(uint64_t Bytes);

  CUstream_st *Stream = nullptr;
  cublasContext *Blas = nullptr;
  std::string Failure;
  std::string DeviceName;
  // Staging ring for uploads: pinned host memory, reused after the stream
  // passes the copies that read it.
  char *Staging = nullptr;
  uint64_t StagingSize = 0, StagingUsed = 0;
  double *Results = nullptr;
  double *Parts = nullptr;
  int64_t PartsSize = 0;
  unsigned *Counter = nullptr;
};

/// Launch shape shared by the kernel files: threads per block.
constexpr int BlockThreads = 256;

} // namespace gradlint::probe::cuda

#endif
