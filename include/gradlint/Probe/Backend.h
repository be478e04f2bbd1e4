//===- Backend.h - the probe's device interface -----------------*- C++ -*-===//
//
// What the probe executor asks of a device: memory (buffers), float32 kernels
// for each op family, and one in-order stream. The executor lowers ONNX nodes
// to these calls and never dereferences device memory: it moves bytes with
// upload/download only. The CPU backend (lib/Probe/CPU) implements it with
// OpenBLAS; the CUDA plugin (libgradlint_cuda.so) implements the same class.
//
// Conventions: element strides and offsets, not bytes; every tensor a kernel
// writes is dense row-major unless a descriptor gives strides; `Acc` means
// "add into the destination" (gradient accumulation) instead of overwriting.
// Kernels that reduce use a fixed summation order, so results do not depend
// on the thread count or on timing.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_PROBE_BACKEND_H
#define GRADLINT_PROBE_BACKEND_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>

namespace gradlint::probe {

/// One allocation in device memory.
struct DeviceBuffer {
  void *Base = nullptr;
  uint64_t Bytes = 0;
};

/// An address in device memory: an allocation plus an element offset. Only
/// the backend turns it into a pointer.
template <typename T> struct DevPtr {
  void *Base = nullptr;
  int64_t Offset = 0;
  explicit operator bool() const { return Base != nullptr; }
  DevPtr operator+(int64_t N) const { return {Base, Offset + N}; }
};
using FPtr = DevPtr<float>;
using IPtr = DevPtr<int64_t>; ///< indices and targets
using MPtr = DevPtr<uint8_t>; ///< boolean masks, one byte per element

/// Most dimensions a strided descriptor carries (after merging dimensions).
constexpr unsigned MaxKernelRank = 8;

//===--- Elementwise ------------------------------------------------------===//

/// Unary maps y = f(x). Each has a derivative that needs x, y or neither
/// (unaryNeeds).
enum class UnaryOp : uint8_t {
  Identity,
  Affine, ///< Alpha * x + Beta
  Neg,
  Abs,
  Sqrt,
  Reciprocal,
  Exp,
  Log,
  Ceil,  ///< zero gradient
  Floor, ///< zero gradient
  Erf,
  Tanh,
  Sigmoid,
  Relu,
  LeakyRelu,   ///< Alpha
  Elu,         ///< Alpha
  Selu,        ///< Alpha, Gamma
  Softplus,
  Mish,
  HardSigmoid, ///< Alpha, Beta
  Clip,        ///< [Alpha, Beta]; gradient passes strictly inside
  Gelu,        ///< erf form
  GeluTanh,    ///< tanh approximation
  QuickGelu,   ///< x * sigmoid(Alpha * x)
  Softcap,     ///< Alpha * tanh(x / Alpha)
  RoundHalf,     ///< round to float16 precision; straight-through gradient
  RoundBFloat16, ///< round to bfloat16 precision; straight-through gradient
};

struct UnaryParams {
  float Alpha = 0, Beta = 0, Gamma = 0;
};

/// Which forward values the derivative of a unary map reads.
struct UnaryNeeds {
  bool X = false, Y = false;
};
UnaryNeeds unaryNeeds(UnaryOp Op);

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Pow, Max, Min, Mod };

/// Up to three operands broadcast against one output shape. Operand K of
/// element I is at sum_d Index_d * Stride[K][d] (0 where it broadcasts).
struct BroadcastDesc {
  unsigned Rank = 0;
  int64_t Shape[MaxKernelRank] = {};
  int64_t Stride[3][MaxKernelRank] = {};
  int64_t numElements() const;
};

//===--- Movement ---------------------------------------------------------===//

/// Dst[dst(i)] (+)= Alpha * Src[src(i)] over every index i of Shape. Covers
/// Transpose, Slice, Concat, Split, Expand (stride 0) and their gradients;
/// destinations never overlap.
struct CopyDesc {
  unsigned Rank = 0;
  int64_t Shape[MaxKernelRank] = {};
  int64_t SrcStride[MaxKernelRank] = {};
  int64_t DstStride[MaxKernelRank] = {};
  float Alpha = 1;
  int64_t numElements() const;
};

/// Keeps the lower (or upper) triangle of each Rows x Cols matrix, offset K.
struct TriluDesc {
  int64_t Batch = 1, Rows = 0, Cols = 0, K = 0;
  bool Upper = true;
};

//===--- Reductions -------------------------------------------------------===//

enum class ReduceKind : uint8_t { Sum, Max };

/// Reduces a dense tensor of Shape over the dimensions marked Reduced; the
/// result is dense over the kept dimensions, times Scale (1/n for a mean).
struct ReduceDesc {
  ReduceKind Kind = ReduceKind::Sum;
  unsigned Rank = 0;
  int64_t Shape[MaxKernelRank] = {};
  bool Reduced[MaxKernelRank] = {};
  float Scale = 1;
};

//===--- Linear, softmax, normalization, gather, loss ---------------------===//

/// C = Alpha * op(A) op(B) + Beta * C, row-major, Batch times with the
/// given element strides between matrices (0 reuses one matrix).
struct GemmDesc {
  bool TransA = false, TransB = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t Lda = 0, Ldb = 0, Ldc = 0;
  float Alpha = 1, Beta = 0;
  int64_t Batch = 1, StrideA = 0, StrideB = 0, StrideC = 0;
};

/// Softmax over the middle dimension of a dense [Outer, Axis, Inner] tensor.
struct SoftmaxDesc {
  int64_t Outer = 1, Axis = 1, Inner = 1;
  bool Log = false;
  /// A line that is all -inf gives zeros (fused attention's fully masked
  /// rows) instead of NaN (the Softmax op, as numpy and torch).
  bool ZeroMaskedLines = false;
};

/// LayerNorm / RMSNorm over the last Cols elements of each of Rows rows;
/// Gamma and Beta (optional) have Cols elements.
struct NormDesc {
  int64_t Rows = 0, Cols = 0;
  float Epsilon = 1e-5f;
  bool RMS = false;
};

/// Y[o, c, i] = X[o, Idx[c], i] for X of [Outer, AxisSize, Inner].
struct GatherDesc {
  int64_t Outer = 1, AxisSize = 0, Inner = 1, Count = 0;
};

/// Negative log-likelihood over classes at dimension 1 of [N, C, Inner]
/// log-probabilities; targets [N, Inner].
struct NllDesc {
  int64_t N = 0, C = 0, Inner = 1;
  int64_t IgnoreIndex = 0;
  bool HasIgnore = false;
};

struct AdamParams {
  float Lr = 1e-3f, Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;
  unsigned Step = 1; ///< 1-based, for bias correction
};

/// A device: memory, kernels, and one in-order stream. Kernels are enqueued
/// in call order; upload returns when the host memory may be reused;
/// download and the reductions that return a double wait for prior work.
class Backend {
public:
  virtual ~Backend();
  virtual llvm::StringRef name() const = 0;

  //--- Memory ---------------------------------------------------------------
  virtual llvm::Expected<DeviceBuffer> allocate(uint64_t Bytes) = 0;
  virtual void release(DeviceBuffer B) = 0;
  virtual void upload(void *DstBase, uint64_t DstByteOffset, const void *Src,
                      uint64_t Bytes) = 0;
  virtual void download(void *Dst, const void *SrcBase, uint64_t SrcByteOffset,
                        uint64_t Bytes) = 0;
  /// A host pointer to an allocation when the host may read it directly
  /// (after synchronize()), or null; the CPU backend returns Base.
  virtual const void *hostAddress(const void *Base) const { return nullptr; }
  virtual void synchronize() = 0;
  virtual void fill(FPtr Dst, int64_t N, float Value) = 0;

  //--- Elementwise (CPU/Elementwise.cpp) -----------------------------------
  virtual void unary(UnaryOp Op, const UnaryParams &P, FPtr X, FPtr Y,
                     int64_t N) = 0;
  /// dX (+)= f'(x) * dY; X and Y may be null when unaryNeeds says so; DX
  /// may be DY (in place).
  virtual void unaryGrad(UnaryOp Op, const UnaryParams &P, FPtr X, FPtr Y,
                         FPtr DY, FPtr DX, int64_t N, bool Acc) = 0;
  /// Y = A op B with operands 0 and 1 of D.
  virtual void binary(BinaryOp Op, const BroadcastDesc &D, FPtr A, FPtr B,
                      FPtr Y) = 0;
  /// Partial derivatives times dY at every output element (dense over D's
  /// shape): GA (+)= dY * d(op)/dA, GB likewise; either may be null. Y is the
  /// forward output (used by Pow's exponent gradient).
  virtual void binaryGrad(BinaryOp Op, const BroadcastDesc &D, FPtr A, FPtr B,
                          FPtr Y, FPtr DY, FPtr GA, bool AccA, FPtr GB,
                          bool AccB) = 0;
  /// Y = Cond ? A : B with operands 0 (Cond), 1 (A) and 2 (B) of D.
  virtual void where(const BroadcastDesc &D, MPtr Cond, FPtr A, FPtr B,
                     FPtr Y) = 0;
  /// GA (+)= Cond ? dY : 0 and GB (+)= Cond ? 0 : dY, dense over D's shape.
  virtual void whereGrad(const BroadcastDesc &D, MPtr Cond, FPtr DY, FPtr GA,
                         bool AccA, FPtr GB, bool AccB) = 0;

  //--- Linear (CPU/Linear.cpp) ----------------------------------------------
  virtual void gemm(const GemmDesc &D, FPtr A, FPtr B, FPtr C) = 0;

  //--- Softmax (CPU/Softmax.cpp) --------------------------------------------
  virtual void softmax(const SoftmaxDesc &D, FPtr X, FPtr Y) = 0;
  /// From the forward output Y (probabilities, or log-probabilities if Log).
  virtual void softmaxGrad(const SoftmaxDesc &D, FPtr Y, FPtr DY, FPtr DX,
                           bool Acc) = 0;

  //--- Normalization (CPU/Normalization.cpp) --------------------------------
  /// Writes Mean (unless RMS or null) and InvStd ([Rows]) for the gradient.
  virtual void norm(const NormDesc &D, FPtr X, FPtr Gamma, FPtr Beta, FPtr Y,
                    FPtr Mean, FPtr InvStd) = 0;
  virtual void normGrad(const NormDesc &D, FPtr X, FPtr Gamma, FPtr Mean,
                        FPtr InvStd, FPtr DY, FPtr DX, bool AccX,
                        FPtr DGamma, FPtr DBeta, bool AccParams) = 0;

  //--- Reductions (CPU/Reduction.cpp) ---------------------------------------
  virtual void reduce(const ReduceDesc &D, FPtr X, FPtr Y, bool Acc) = 0;
  /// Max's gradient: dY shared evenly among the maxima of each group.
  virtual void reduceMaxGrad(const ReduceDesc &D, FPtr X, FPtr Y, FPtr DY,
                             FPtr DX, bool Acc) = 0;
  /// Sum of squares of a Rows x Cols block with leading dimension Ld.
  virtual double sumSquares(FPtr X, int64_t Rows, int64_t Cols, int64_t Ld) = 0;
  virtual double dot(FPtr A, FPtr B, int64_t N) = 0;

  //--- Movement (CPU/Movement.cpp) ------------------------------------------
  virtual void copy(const CopyDesc &D, FPtr Src, FPtr Dst, bool Acc) = 0;
  virtual void trilu(const TriluDesc &D, FPtr X, FPtr Y, bool Acc) = 0;

  //--- Gather (CPU/Gather.cpp) ----------------------------------------------
  virtual void gather(const GatherDesc &D, FPtr X, IPtr Idx, FPtr Y) = 0;
  /// dX (+)= scatter-add of dY; indices may repeat.
  virtual void gatherGrad(const GatherDesc &D, IPtr Idx, FPtr DY, FPtr DX,
                          bool Acc) = 0;
  /// Y[i] = X[Offsets[i]] (GatherElements after offsets are resolved).
  virtual void gatherFlat(FPtr X, IPtr Offsets, FPtr Y, int64_t N) = 0;
  /// dX (of XSize elements) (+)= scatter-add of dY at Offsets.
  virtual void gatherFlatGrad(IPtr Offsets, FPtr DY, FPtr DX, int64_t N,
                              int64_t XSize, bool Acc) = 0;

  //--- Loss and optimizer (CPU/Loss.cpp) ------------------------------------
  /// Cross-entropy of each of Rows rows of Classes logits against Targets;
  /// RowLoss [Rows] gets -log softmax[target]; DLogits (if not null) gets
  /// Scale * (softmax - onehot).
  virtual void crossEntropy(int64_t Rows, int64_t Classes, FPtr Logits,
                            IPtr Targets, FPtr RowLoss, FPtr DLogits,
                            float Scale) = 0;
  /// Loss[n, i] = -W[n, i] * LogProb[n, t, i] with W = Weight[t] (1 without
  /// weights, 0 at ignored targets).
  virtual void nll(const NllDesc &D, FPtr LogProb, IPtr Target, FPtr Weight,
                   FPtr Loss, FPtr W) = 0;
  /// dLogProb[n, t, i] (+)= -W[n, i] * dLoss[n, i]; other classes get 0.
  virtual void nllGrad(const NllDesc &D, IPtr Target, FPtr W, FPtr DLoss,
                       FPtr DLogProb, bool Acc) = 0;
  /// W -= Lr * G; returns the squared norm of the update.
  virtual double sgdUpdate(FPtr W, FPtr G, int64_t N, float Lr) = 0;
  /// Adam with moments M and V; returns the squared norm of the update.
  virtual double adamUpdate(FPtr W, FPtr G, FPtr M, FPtr V, int64_t N,
                            const AdamParams &P) = 0;
};

} // namespace gradlint::probe

#endif
