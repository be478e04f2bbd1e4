//===- Attention.h - the attention core shared by the fused ops -*- C++ -*-===//
//
//   Q [B,Hq,Sq,D]   K [B,Hkv,T,D] (past ++ new)   V [B,Hkv,T,Dv]
//        └── S0 = scale · Q Kᵀ ── Sc = softcap(S0) ── S1 = Sc + bias
//                                  bias: mask, causal, padding (host-built)
//            P = softmax(S1) (fully masked rows give 0) ── Y = P V
//
// Query heads h·r .. h·r+r-1 share kv head h (r = Hq/Hkv): their rows are
// contiguous, so every product is one batched GEMM over (batch, kv head)
// with M = r·Sq, and the gradients of K and V sum over the group by
// themselves. Masks are constants: no gradient flows into them.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_PROBE_OPS_ATTENTION_H
#define GRADLINT_LIB_PROBE_OPS_ATTENTION_H

#include "Layout.h"
#include "Rules.h"

namespace gradlint::probe::attention {

/// One attention call after its inputs are normalized to 4-D.
struct AttnSpec {
  int64_t B = 0, Hq = 0, Hkv = 0, Sq = 0, Skv = 0, P = 0, T = 0, D = 0, Dv = 0;
  bool ThreeD = false;
  float Scale = 1, Softcap = 0;
  int Mode = 0; ///< qk_matmul_output_mode
  unsigned PastK = ~0u, PastV = ~0u; ///< input positions (~0u when absent)
  int64_t reps() const { return Hq / Hkv; }
};

/// The additive bias [Bm, Hm, Sq, T] (Bm in {1, B}, Hm in {1, Hq}), or empty.
struct HostBias {
  Dims Shape;
  std::vector<float> Data;
};

/// Adds a mask broadcast (right-aligned) to [B, Hq, Sq, T]; a last dimension
/// shorter than T is padded with -inf. Bool masks keep where true; float
/// masks add; Keep01 masks (1 keep, 0 drop) add Filter where 0.
void addMask(HostBias &Bias, const HostTensor &M, const AttnSpec &S, bool Bool,
             bool Keep01, float Filter);
/// Adds -inf where key j is hidden from query i of batch b: causal (j > i +
/// Offset[b], one offset for all batches or one each) and padding
/// (j >= Valid[b]).
void addStructural(HostBias &Bias, const AttnSpec &S, bool Causal,
                   const std::vector<int64_t> &Offset,
                   const std::vector<int64_t> &Valid);

/// [B, S, H·D] <-> [B, H, S, D] as a strided copy.
CopyPlan headsPlan(int64_t B, int64_t S, int64_t H, int64_t D, bool To4D);
/// A new tensor of OutShape filled by P from X.
llvm::Expected<Tensor> copyPlan(OpContext &C, const CopyPlan &P, const Tensor &X,
                                llvm::ArrayRef<int64_t> OutShape);

/// The core forward: Y4 [B,Hq,Sq,Dv]; QKOut (if not null) gets the qk output
/// of S.Mode. Saves Q4, K4, V4, P, Sc (saved tensors 0-4) for backward.
llvm::Expected<Tensor> attend(OpContext &C, const Node &N, const AttnSpec &S,
                              const Tensor &Q4, const Tensor &K4,
                              const Tensor &V4, const HostBias &Bias,
                              Tensor *QKOut);
/// The core gradient from dY4 (and a gradient of the qk output): new dense
/// dQ4, dK4, dV4.
llvm::Error attendBackward(OpContext &C, const Node &N, const AttnSpec &S,
                           const Tensor &DY4, const Tensor *DQK, Tensor &DQ4,
                           Tensor &DK4, Tensor &DV4);

// AttentionContrib.cpp
llvm::Error multiHeadForward(OpContext &C, const Node &N);
llvm::Error multiHeadBackward(OpContext &C, const Node &N);
llvm::Error msForward(OpContext &C, const Node &N);
llvm::Error msBackward(OpContext &C, const Node &N);

} // namespace gradlint::probe::attention

#endif
