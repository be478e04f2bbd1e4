//===- Attention.cpp - the attention core and ONNX Attention --------------===//
//
// ONNX Attention (opset 23/24): 3-D or 4-D inputs, GQA, past and present
// keys and values, softcap, qk_matmul_output modes, nonpad_kv_seqlen, on the
// core in Attention.h. Gradients flow to Q, K, V and the past keys and values.
//
//===----------------------------------------------------------------------===//
#include "Attention.h"
#include <cmath>
#include <limits>

using namespace gradlint;
using namespace gradlint::probe;

using namespace gradlint::probe::attention;

namespace {
constexpr float NegInf = -std::numeric_limits<float>::infinity();
} // namespace

CopyPlan gradlint::probe::attention::headsPlan(int64_t B, int64_t S, int64_t H, int64_t D, bool To4D) {
  // Index space [B, H, S, D]; 3-D strides of the same element.
  CopyPlan P;
  P.Shape = {B, H, S, D};
  Dims Four = {H * S * D, S * D, D, 1}, Three = {S * H * D, D, H * D, 1};
  P.Src = To4D ? Three : Four;
  P.Dst = To4D ? Four : Three;
  return P;
}

llvm::Expected<Tensor> gradlint::probe::attention::copyPlan(OpContext &C, const CopyPlan &P, const Tensor &X,
                                llvm::ArrayRef<int64_t> OutShape) {
  auto D = P.build();
  if (!D)
    return D.takeError();
  auto Y = C.alloc(OutShape);
  if (!Y)
    return Y.takeError();
  C.B.copy(*D, X.ptr(), Y->ptr(), false);
  return Y;
}

/// Batched products over (batch, kv head) groups of r query heads.
/// Kind: 0 S = Q Kᵀ, 1 Y = P V, 2 dP = dY Vᵀ, 3 dV = Pᵀ dY, 4 dQ = dS K,
/// 5 dK = dSᵀ Q. Alpha scales, Beta 1 accumulates into Out.
static void groupGemm(OpContext &C, const AttnSpec &S, int Kind, FPtr A, FPtr B,
               FPtr Out, float Alpha, float Beta) {
  int64_t R = S.reps(), RS = R * S.Sq;
  GemmDesc G;
  G.Alpha = Alpha;
  G.Beta = Beta;
  G.Batch = S.B * S.Hkv;
  switch (Kind) {
  case 0: // [RS, D] x [T, D]^T
    G.TransB = true, G.M = RS, G.N = S.T, G.K = S.D;
    G.Lda = S.D, G.Ldb = S.D, G.Ldc = S.T;
    G.StrideA = RS * S.D, G.StrideB = S.T * S.D, G.StrideC = RS * S.T;
    break;
  case 1: // [RS, T] x [T, Dv]
    G.M = RS, G.N = S.Dv, G.K = S.T;
    G.Lda = S.T, G.Ldb = S.Dv, G.Ldc = S.Dv;
    G.StrideA = RS * S.T, G.StrideB = S.T * S.Dv, G.StrideC = RS * S.Dv;
    break;
  case 2: // [RS, Dv] x [T, Dv]^T
    G.TransB = true, G.M = RS, G.N = S.T, G.K = S.Dv;
    G.Lda = S.Dv, G.Ldb = S.Dv, G.Ldc = S.T;
    G.StrideA = RS * S.Dv, G.StrideB = S.T * S.Dv, G.StrideC = RS * S.T;
    break;
  case 3: // [RS, T]^T x [RS, Dv]
    G.TransA = true, G.M = S.T, G.N = S.Dv, G.K = RS;
    G.Lda = S.T, G.Ldb = S.Dv, G.Ldc = S.Dv;
    G.StrideA = RS * S.T, G.StrideB = RS * S.Dv, G.StrideC = S.T * S.Dv;
    break;
  case 4: // [RS, T] x [T, D]
    G.M = RS, G.N = S.D, G.K = S.T;
    G.Lda = S.T, G.Ldb = S.D, G.Ldc = S.D;
    G.StrideA = RS * S.T, G.StrideB = S.T * S.D, G.StrideC = RS * S.D;
    break;
  case 5: // [RS, T]^T x [RS, D]
    G.TransA = true, G.M = S.T, G.N = S.D, G.K = RS;
    G.Lda = S.T, G.Ldb = S.D, G.Ldc = S.D;
    G.StrideA = RS * S.T, G.StrideB = RS * S.D, G.StrideC = S.T * S.D;
    break;
  }
  C.B.gemm(G, A, B, Out);
}

/// Value of a [B|1, H|1, Sq, T] host bias at (b, h, i, j); 0 when empty.
static float biasAt(const HostBias &Bias, int64_t B, int64_t H, int64_t I, int64_t J) {
  if (Bias.Data.empty())
    return 0;
  const Dims &S = Bias.Shape;
  return Bias.Data[(((S[0] == 1 ? 0 : B) * S[1] + (S[1] == 1 ? 0 : H)) * S[2] + I) *
                       S[3] + J];
}

/// Adds a mask given as a host tensor broadcast (right-aligned) to
/// [B, Hq, Sq, T]; its last dimension may be shorter than T (padded with
/// -inf). Bool masks keep where true; float masks add. Keep01 masks (the
/// contrib ops' 1 keep, 0 drop) add Filter where 0.
void gradlint::probe::attention::addMask(HostBias &Bias, const HostTensor &M, const AttnSpec &S, bool Bool,
             bool Keep01, float Filter) {
  Dims MS(4, 1);
  size_t R = std::min<size_t>(M.Shape.size(), 4);
  for (size_t I = 0; I != R; ++I)
    MS[4 - R + I] = M.Shape[M.Shape.size() - R + I];
  Dims MSt = denseStrides(MS);
  Dims New = {std::max(Bias.Shape[0], MS[0]), std::max(Bias.Shape[1], MS[1]),
              S.Sq, S.T};
  std::vector<float> Out(product(New));
  for (int64_t B = 0; B < New[0]; ++B)
    for (int64_t H = 0; H < New[1]; ++H)
      for (int64_t I = 0; I < S.Sq; ++I)
        for (int64_t J = 0; J < S.T; ++J) {
          float V = NegInf;
          if (J < MS[3]) {
            int64_t At = (MS[0] == 1 ? 0 : B) * MSt[0] + (MS[1] == 1 ? 0 : H) * MSt[1] +
                         (MS[2] == 1 ? 0 : I) * MSt[2] + J;
            double X = M.real(At);
            V = Bool     ? (X != 0 ? 0.0f : NegInf)
                : Keep01 ? (X != 0 ? 0.0f : Filter)
                         : static_cast<float>(X);
          }
          Out[((B * New[1] + H) * S.Sq + I) * S.T + J] = biasAt(Bias, B, H, I, J) + V;
        }
  Bias.Shape = New;
  Bias.Data.swap(Out);
}

/// Adds -inf where key j is hidden from query i of batch b: causal (j > i +
/// offset[b]) and padding (j >= valid[b]).
void gradlint::probe::attention::addStructural(HostBias &Bias, const AttnSpec &S, bool Causal,
                   const std::vector<int64_t> &Offset,
                   const std::vector<int64_t> &Valid) {
  bool PerBatch = Offset.size() > 1 || !Valid.empty();
  Dims New = {PerBatch ? S.B : Bias.Shape[0], Bias.Shape[1], S.Sq, S.T};
  std::vector<float> Out(product(New), 0.0f);
  for (int64_t B = 0; B < New[0]; ++B)
    for (int64_t H = 0; H < New[1]; ++H)
      for (int64_t I = 0; I < S.Sq; ++I)
        for (int64_t J = 0; J < S.T; ++J) {
          float V = biasAt(Bias, B, H, I, J);
          int64_t Off = Offset.empty() ? 0 : Offset[Offset.size() == 1 ? 0 : B];
          if (Causal && J > I + Off)
            V = NegInf;
          if (!Valid.empty() && J >= Valid[B])
            V = NegInf;
          Out[((B * New[1] + H) * S.Sq + I) * S.T + J] = V;
        }
  Bias.Shape = New;
  Bias.Data.swap(Out);
}

/// The shared core: S, softcap, bias, softmax, P V. Q4 [B,Hq,Sq,D] and
/// K4/V4 [B,Hkv,T,*] are dense; returns Y4 [B,Hq,Sq,Dv] and fills the
/// qk output (Mode) when asked. Saves Q4, K4, V4, P and Sc for backward.
llvm::Expected<Tensor> gradlint::probe::attention::attend(OpContext &C, const Node &N, const AttnSpec &S,
                              const Tensor &Q4, const Tensor &K4,
                              const Tensor &V4, const HostBias &Bias,
                              Tensor *QKOut) {
  Dims SS = {S.B, S.Hq, S.Sq, S.T};
  auto S0 = C.alloc(SS);
  if (!S0)
    return S0.takeError();
  groupGemm(C, S, 0, Q4.ptr(), K4.ptr(), S0->ptr(), S.Scale, 0);
  Tensor Sc = *S0;
  if (S.Softcap > 0) {
    auto T = C.alloc(SS);
    if (!T)
      return T.takeError();
    UnaryParams P;
    P.Alpha = S.Softcap;
    C.B.unary(UnaryOp::Softcap, P, S0->ptr(), T->ptr(), T->size());
    Sc = *T;
  }
  Tensor S1 = Sc;
  if (!Bias.Data.empty()) {
    auto BT = C.alloc(Bias.Shape);
    auto T = C.alloc(SS);
    if (!BT || !T)
      return llvm::joinErrors(BT.takeError(), T.takeError());
    C.B.upload(BT->Buf->base(), 0, Bias.Data.data(), Bias.Data.size() * 4);
    auto D = broadcastDesc(SS, {SS, Bias.Shape});
    if (!D)
      return D.takeError();
    C.B.binary(BinaryOp::Add, *D, Sc.ptr(), BT->ptr(), T->ptr());
    S1 = *T;
  }
  auto P = C.alloc(SS);
  if (!P)
    return P.takeError();
  SoftmaxDesc SD;
  SD.Outer = S.B * S.Hq * S.Sq;
  SD.Axis = S.T;
  SD.ZeroMaskedLines = true;
  C.B.softmax(SD, S1.ptr(), P->ptr());
  auto Y = C.alloc({S.B, S.Hq, S.Sq, S.Dv});
  if (!Y)
    return Y.takeError();
  groupGemm(C, S, 1, P->ptr(), V4.ptr(), Y->ptr(), 1, 0);
  if (QKOut)
    *QKOut = S.Mode == 3 ? *P : S.Mode == 2 ? S1 : Sc;
  if (C.backwardNeeded(N)) {
    C.save(N, Q4);
    C.save(N, K4);
    C.save(N, V4);
    C.save(N, *P);
    C.save(N, Sc);
  }
  return Y;
}

/// Gradients of the core: from dY4 (and a gradient of the qk output) to
/// dQ4, dK4, dV4 (dense, overwritten).
llvm::Error gradlint::probe::attention::attendBackward(OpContext &C, const Node &N, const AttnSpec &S,
                           const Tensor &DY4, const Tensor *DQK, Tensor &DQ4,
                           Tensor &DK4, Tensor &DV4) {
  const Tensor &Q4 = C.saved(N, 0), &K4 = C.saved(N, 1), &V4 = C.saved(N, 2);
  const Tensor &P = C.saved(N, 3), &Sc = C.saved(N, 4);
  Dims SS = {S.B, S.Hq, S.Sq, S.T};
  auto DP = C.alloc(SS);
  auto DS = C.alloc(SS);
  auto DQ = C.alloc(Q4.Shape);
  auto DK = C.alloc(K4.Shape);
  auto DV = C.alloc(V4.Shape);
  if (!DP || !DS || !DQ || !DK || !DV)
    return llvm::joinErrors(
        llvm::joinErrors(llvm::joinErrors(DP.takeError(), DS.takeError()),
                         llvm::joinErrors(DQ.takeError(), DK.takeError())),
        DV.takeError());
  groupGemm(C, S, 2, DY4.ptr(), V4.ptr(), DP->ptr(), 1, 0);
  groupGemm(C, S, 3, P.ptr(), DY4.ptr(), DV->ptr(), 1, 0);
  if (DQK && S.Mode == 3)
    C.B.copy(denseCopy(DP->size()), DQK->ptr(), DP->ptr(), true);
  SoftmaxDesc SD;
  SD.Outer = S.B * S.Hq * S.Sq;
  SD.Axis = S.T;
  C.B.softmaxGrad(SD, P.ptr(), DP->ptr(), DS->ptr(), false);
  if (DQK && S.Mode != 3) // the bias is constant: dSc = dS1 (+ dqk)
    C.B.copy(denseCopy(DS->size()), DQK->ptr(), DS->ptr(), true);
  if (S.Softcap > 0) {
    UnaryParams UP;
    UP.Alpha = S.Softcap;
    C.B.unaryGrad(UnaryOp::Softcap, UP, FPtr(), Sc.ptr(), DS->ptr(), DS->ptr(),
                  DS->size(), false);
  }
  groupGemm(C, S, 4, DS->ptr(), K4.ptr(), DQ->ptr(), S.Scale, 0);
  groupGemm(C, S, 5, DS->ptr(), Q4.ptr(), DK->ptr(), S.Scale, 0);
  DQ4 = *DQ, DK4 = *DK, DV4 = *DV;
  return llvm::Error::success();
}

namespace {

//===--- ONNX Attention ---------------------------------------------------===//

llvm::Expected<AttnSpec> onnxSpec(OpContext &C, const Node &N) {
  AttnSpec S;
  const Dims &Q = C.inShape(N, 0), &K = C.inShape(N, 1), &V = C.inShape(N, 2);
  if (Q.size() != K.size() || Q.size() != V.size() ||
      (Q.size() != 3 && Q.size() != 4))
    return C.nodeError(N, "Q, K and V must all be 3-D or all 4-D");
  S.ThreeD = Q.size() == 3;
  S.B = Q[0];
  if (S.ThreeD) {
    S.Hq = N.getInt("q_num_heads", 0);
    S.Hkv = N.getInt("kv_num_heads", 0);
    if (S.Hq <= 0 || S.Hkv <= 0 || Q[2] % S.Hq || K[2] % S.Hkv || V[2] % S.Hkv)
      return C.nodeError(N, "3-D inputs need q_num_heads and kv_num_heads "
                            "that divide the hidden sizes");
    S.Sq = Q[1], S.Skv = K[1], S.D = Q[2] / S.Hq, S.Dv = V[2] / S.Hkv;
  } else {
    S.Hq = Q[1], S.Hkv = K[1], S.Sq = Q[2], S.Skv = K[2], S.D = Q[3], S.Dv = V[3];
  }
  if (S.Hkv <= 0 || S.Hq % S.Hkv)
    return C.nodeError(N, "q heads must be a multiple of kv heads");
  if (C.has(N, 4) != C.has(N, 5))
    return C.nodeError(N, "past_key and past_value go together");
  if (C.has(N, 4)) {
    S.PastK = 4, S.PastV = 5;
    S.P = C.inShape(N, 4)[2];
  }
  S.T = S.P + S.Skv;
  float Scale = N.getFloat("scale", 0.0f);
  S.Scale = Scale != 0 ? Scale : static_cast<float>(1.0 / std::sqrt(double(S.D)));
  S.Softcap = N.getFloat("softcap", 0.0f);
  S.Mode = N.getInt("qk_matmul_output_mode", 0);
  return S;
}

llvm::Expected<HostBias> onnxBias(OpContext &C, const Node &N, const AttnSpec &S) {
  HostBias Bias;
  Bias.Shape = {1, 1, S.Sq, S.T};
  if (C.has(N, 3)) {
    auto M = C.hostIn(N, 3);
    if (!M)
      return M.takeError();
    addMask(Bias, **M, S, (*M)->Type == DataType::Bool, false, 0);
  }
  std::vector<int64_t> Offset, Valid;
  if (C.has(N, 6)) {
    auto NP = C.hostIn(N, 6);
    if (!NP)
      return NP.takeError();
    for (size_t I = 0; I != (*NP)->size(); ++I)
      Valid.push_back((*NP)->integer(I));
    if (static_cast<int64_t>(Valid.size()) != S.B)
      return C.nodeError(N, "nonpad_kv_seqlen needs one length per batch");
  }
  bool Causal = N.getInt("is_causal", 0);
  if (S.PastK != ~0u || Valid.empty())
    Offset.push_back(S.P);
  else
    for (int64_t L : Valid)
      Offset.push_back(L - S.Sq);
  if (Causal || !Valid.empty())
    addStructural(Bias, S, Causal, Offset, Valid);
  return Bias;
}

/// Q, K or V of N as a dense 4-D tensor.
llvm::Expected<Tensor> to4D(OpContext &C, const Node &N, unsigned I,
                            const AttnSpec &S, int64_t H, int64_t Seq,
                            int64_t D) {
  auto X = C.in(N, I);
  if (!X)
    return X.takeError();
  if (!S.ThreeD)
    return X;
  return copyPlan(C, headsPlan(S.B, Seq, H, D, true), *X, {S.B, H, Seq, D});
}

/// past ++ new along the sequence axis.
llvm::Expected<Tensor> withPast(OpContext &C, const Node &N, unsigned Past,
                                const Tensor &New, const AttnSpec &S, int64_t D) {
  if (Past == ~0u)
    return New;
  auto PT = C.in(N, Past);
  if (!PT)
    return PT.takeError();
  auto Out = C.alloc({S.B, S.Hkv, S.T, D});
  if (!Out)
    return Out.takeError();
  for (int Part = 0; Part < 2; ++Part) {
    int64_t Len = Part ? S.Skv : S.P;
    CopyPlan CP;
    CP.Shape = {S.B * S.Hkv, Len, D};
    CP.Src = {Len * D, D, 1};
    CP.Dst = {S.T * D, D, 1};
    auto CD = CP.build();
    if (!CD)
      return CD.takeError();
    C.B.copy(*CD, (Part ? New : *PT).ptr(), Out->ptr() + (Part ? S.P * D : 0),
             false);
  }
  return Out;
}

/// Adds the part [From, From+Len) of a [B·Hkv, T, D] gradient into input I.
llvm::Error splitInto(OpContext &C, const Node &N, unsigned I, const Tensor &G,
                      const AttnSpec &S, int64_t From, int64_t Len, int64_t D,
                      bool ThreeD) {
  if (I == ~0u || !C.needsGrad(N, I))
    return llvm::Error::success();
  auto T = C.gradIn(N, I);
  if (!T)
    return T.takeError();
  CopyPlan CP;
  CP.Shape = {S.B, S.Hkv, Len, D};
  CP.Src = {S.Hkv * S.T * D, S.T * D, D, 1};
  CP.Dst = ThreeD ? Dims{Len * S.Hkv * D, D, S.Hkv * D, 1}
                  : Dims{S.Hkv * Len * D, Len * D, D, 1};
  auto CD = CP.build();
  if (!CD)
    return CD.takeError();
  C.B.copy(*CD, G.ptr() + From * D, T->T.ptr(), T->Acc);
  return llvm::Error::success();
}

llvm::Error onnxForward(OpContext &C, const Node &N) {
  auto S = onnxSpec(C, N);
  if (!S)
    return S.takeError();
  auto Q4 = to4D(C, N, 0, *S, S->Hq, S->Sq, S->D);
  auto K4 = to4D(C, N, 1, *S, S->Hkv, S->Skv, S->D);
  auto V4 = to4D(C, N, 2, *S, S->Hkv, S->Skv, S->Dv);
  if (!Q4 || !K4 || !V4)
    return llvm::joinErrors(llvm::joinErrors(Q4.takeError(), K4.takeError()),
                            V4.takeError());
  auto KP = withPast(C, N, S->PastK, *K4, *S, S->D);
  auto VP = withPast(C, N, S->PastV, *V4, *S, S->Dv);
  if (!KP || !VP)
    return llvm::joinErrors(KP.takeError(), VP.takeError());
  auto Bias = onnxBias(C, N, *S);
  if (!Bias)
    return Bias.takeError();
  Tensor QK;
  auto Y4 = attend(C, N, *S, *Q4, *KP, *VP, *Bias, &QK);
  if (!Y4)
    return Y4.takeError();
  if (llvm::Error E = C.out(N, 1, *KP))
    return E;
  if (llvm::Error E = C.out(N, 2, *VP))
    return E;
  if (llvm::Error E = C.out(N, 3, QK))
    return E;
  if (!S->ThreeD)
    return C.out(N, 0, *Y4);
  auto Y = copyPlan(C, headsPlan(S->B, S->Sq, S->Hq, S->Dv, false), *Y4,
                    {S->B, S->Sq, S->Hq * S->Dv});
  if (!Y)
    return Y.takeError();
  return C.out(N, 0, *Y);
}

llvm::Error onnxBackward(OpContext &C, const Node &N) {
  auto S = onnxSpec(C, N);
  if (!S)
    return S.takeError();
  const Tensor *DY = C.gradOut(N, 0);
  Tensor DY4;
  if (DY && S->ThreeD) {
    auto T = copyPlan(C, headsPlan(S->B, S->Sq, S->Hq, S->Dv, true), *DY,
                      {S->B, S->Hq, S->Sq, S->Dv});
    if (!T)
      return T.takeError();
    DY4 = *T;
  } else if (DY) {
    DY4 = *DY;
  } else {
    auto T = C.alloc({S->B, S->Hq, S->Sq, S->Dv});
    if (!T)
      return T.takeError();
    C.B.fill(T->ptr(), T->size(), 0.0f);
    DY4 = *T;
  }
  Tensor DQ4, DK4, DV4;
  if (llvm::Error E = attendBackward(C, N, *S, DY4, C.gradOut(N, 3), DQ4, DK4, DV4))
    return E;
  for (auto [Out, G] : {std::pair<unsigned, Tensor *>{1, &DK4}, {2, &DV4}})
    if (const Tensor *DP = C.gradOut(N, Out))
      C.B.copy(denseCopy(G->size()), DP->ptr(), G->ptr(), true);
  if (C.needsGrad(N, 0)) {
    auto T = C.gradIn(N, 0);
    if (!T)
      return T.takeError();
    if (S->ThreeD) {
      auto D = headsPlan(S->B, S->Sq, S->Hq, S->D, false).build();
      if (!D)
        return D.takeError();
      C.B.copy(*D, DQ4.ptr(), T->T.ptr(), T->Acc);
    } else {
      C.B.copy(denseCopy(DQ4.size()), DQ4.ptr(), T->T.ptr(), T->Acc);
    }
  }
  if (llvm::Error E = splitInto(C, N, S->PastK, DK4, *S, 0, S->P, S->D, false))
    return E;
  if (llvm::Error E = splitInto(C, N, 1, DK4, *S, S->P, S->Skv, S->D, S->ThreeD))
    return E;
  if (llvm::Error E = splitInto(C, N, S->PastV, DV4, *S, 0, S->P, S->Dv, false))
    return E;
  return splitInto(C, N, 2, DV4, *S, S->P, S->Skv, S->Dv, S->ThreeD);
}

} // namespace

llvm::Error gradlint::probe::attentionForward(OpContext &C, const Node &N,
                                              const OpRule &R) {
  switch (static_cast<AttentionVariant>(R.Variant)) {
  case AttentionVariant::Onnx:
    return onnxForward(C, N);
  case AttentionVariant::MultiHead:
    return multiHeadForward(C, N);
  case AttentionVariant::Microsoft:
    return msForward(C, N);
  }
  return llvm::Error::success();
}

llvm::Error gradlint::probe::attentionBackward(OpContext &C, const Node &N,
                                               const OpRule &R) {
  bool Any = false;
  for (unsigned I = 0; I != N.Outputs.size(); ++I)
    Any |= C.gradOut(N, I) != nullptr;
  if (!Any)
    return llvm::Error::success();
  switch (static_cast<AttentionVariant>(R.Variant)) {
  case AttentionVariant::Onnx:
    return onnxBackward(C, N);
  case AttentionVariant::MultiHead:
    if (!C.gradOut(N, 0))
      return llvm::Error::success();
    return multiHeadBackward(C, N);
  case AttentionVariant::Microsoft:
    if (!C.gradOut(N, 0))
      return llvm::Error::success();
    return msBackward(C, N);
  }
  return llvm::Error::success();
}
