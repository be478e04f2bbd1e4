//===- AttentionContrib.cpp - com.microsoft MultiHeadAttention, Attention -===//
//
// MultiHeadAttention: separate 3-D query, key, value with an optional packed
// bias, a [batch, kv_length] key padding mask, an additive attention bias,
// unidirectional. Attention: qkv = input · weights + bias split by
// qkv_hidden_sizes, a 2-D mask_index, unidirectional. Masked positions get
// mask_filter_value (default -10000), as ONNX Runtime does. No KV cache.
//
//===----------------------------------------------------------------------===//
#include "Attention.h"
#include <cmath>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::probe::attention;

namespace {

llvm::Expected<AttnSpec> contribSpec(OpContext &C, const Node &N, int64_t QW,
                                     int64_t KW, int64_t VW, int64_t B,
                                     int64_t Sq, int64_t Skv) {
  AttnSpec S;
  S.ThreeD = true;
  S.Hq = S.Hkv = N.getInt("num_heads", 0);
  if (S.Hq <= 0 || QW % S.Hq || KW % S.Hq || VW % S.Hq || QW != KW)
    return C.nodeError(N, "num_heads must divide the q, k and v widths");
  S.B = B, S.Sq = Sq, S.Skv = Skv, S.T = Skv;
  S.D = QW / S.Hq, S.Dv = VW / S.Hq;
  float Scale = N.getFloat("scale", 0.0f);
  S.Scale = Scale != 0 ? Scale : static_cast<float>(1.0 / std::sqrt(double(S.D)));
  return S;
}

/// The contrib masks: a key padding / raw mask [B, T] (1 keep, 0 drop), an
/// additive attention bias [B|1, H|1, Sq, T], unidirectional.
llvm::Expected<HostBias> contribBias(OpContext &C, const Node &N,
                                     const AttnSpec &S, unsigned MaskIn,
                                     unsigned BiasIn) {
  HostBias Bias;
  Bias.Shape = {1, 1, S.Sq, S.T};
  float Filter = N.getFloat("mask_filter_value", -10000.0f);
  if (C.has(N, BiasIn)) {
    auto M = C.hostIn(N, BiasIn);
    if (!M)
      return M.takeError();
    addMask(Bias, **M, S, false, false, 0);
  }
  if (C.has(N, MaskIn)) {
    auto M = C.hostIn(N, MaskIn);
    if (!M)
      return M.takeError();
    if ((*M)->Shape.size() != 2 || (*M)->Shape[0] != S.B || (*M)->Shape[1] != S.T)
      return C.nodeError(N, "only a [batch, kv_length] key mask is supported");
    HostTensor M4 = **M;
    M4.Shape = {S.B, 1, 1, S.T};
    addMask(Bias, M4, S, false, true, Filter);
  }
  if (N.getInt("unidirectional", 0))
    addStructural(Bias, S, true, {S.T - S.Sq}, {});
  return Bias;
}

/// Y [B, S, H·Dv] from 3-D q, k, v through the core.
llvm::Error contribCore(OpContext &C, const Node &N, const AttnSpec &S,
                        const Tensor &Q3, const Tensor &K3, const Tensor &V3,
                        const HostBias &Bias) {
  auto Q4 = copyPlan(C, headsPlan(S.B, S.Sq, S.Hq, S.D, true), Q3, {S.B, S.Hq, S.Sq, S.D});
  auto K4 = copyPlan(C, headsPlan(S.B, S.T, S.Hkv, S.D, true), K3, {S.B, S.Hkv, S.T, S.D});
  auto V4 = copyPlan(C, headsPlan(S.B, S.T, S.Hkv, S.Dv, true), V3, {S.B, S.Hkv, S.T, S.Dv});
  if (!Q4 || !K4 || !V4)
    return llvm::joinErrors(llvm::joinErrors(Q4.takeError(), K4.takeError()),
                            V4.takeError());
  auto Y4 = attend(C, N, S, *Q4, *K4, *V4, Bias, nullptr);
  if (!Y4)
    return Y4.takeError();
  auto Y = copyPlan(C, headsPlan(S.B, S.Sq, S.Hq, S.Dv, false), *Y4,
                    {S.B, S.Sq, S.Hq * S.Dv});
  if (!Y)
    return Y.takeError();
  return C.out(N, 0, *Y);
}

/// dQ3, dK3, dV3 [B, S, H·D] from the output gradient.
llvm::Error contribCoreBackward(OpContext &C, const Node &N, const AttnSpec &S,
                                Tensor &DQ3, Tensor &DK3, Tensor &DV3) {
  const Tensor *DY = C.gradOut(N, 0);
  auto DY4 = copyPlan(C, headsPlan(S.B, S.Sq, S.Hq, S.Dv, true), *DY,
                      {S.B, S.Hq, S.Sq, S.Dv});
  if (!DY4)
    return DY4.takeError();
  Tensor DQ4, DK4, DV4;
  if (llvm::Error E = attendBackward(C, N, S, *DY4, nullptr, DQ4, DK4, DV4))
    return E;
  auto Q = copyPlan(C, headsPlan(S.B, S.Sq, S.Hq, S.D, false), DQ4, {S.B, S.Sq, S.Hq * S.D});
  auto K = copyPlan(C, headsPlan(S.B, S.T, S.Hkv, S.D, false), DK4, {S.B, S.T, S.Hkv * S.D});
  auto V = copyPlan(C, headsPlan(S.B, S.T, S.Hkv, S.Dv, false), DV4, {S.B, S.T, S.Hkv * S.Dv});
  if (!Q || !K || !V)
    return llvm::joinErrors(llvm::joinErrors(Q.takeError(), K.takeError()), V.takeError());
  DQ3 = *Q, DK3 = *K, DV3 = *V;
  return llvm::Error::success();
}

/// Adds bias [W] (at element Offset of a packed bias input) to X [.., W].
llvm::Expected<Tensor> addBias(OpContext &C, const Tensor &X, const Tensor &Bias,
                               int64_t Offset) {
  int64_t W = X.Shape.back();
  BroadcastDesc D;
  D.Rank = 2;
  D.Shape[0] = X.size() / W, D.Shape[1] = W;
  D.Stride[0][0] = W, D.Stride[0][1] = 1;
  D.Stride[1][0] = 0, D.Stride[1][1] = 1;
  auto Y = C.alloc(X.Shape);
  if (!Y)
    return Y.takeError();
  C.B.binary(BinaryOp::Add, D, X.ptr(), Bias.ptr() + Offset, Y->ptr());
  return Y;
}

/// dBias[Offset, Offset + W) (+)= column sums of G.
llvm::Error biasGrad(OpContext &C, const Node &N, unsigned BiasIn,
                     const Tensor &G, int64_t Offset) {
  if (!C.has(N, BiasIn) || !C.needsGrad(N, BiasIn))
    return llvm::Error::success();
  auto T = C.gradIn(N, BiasIn, /*Zeroed=*/true);
  if (!T)
    return T.takeError();
  int64_t W = G.Shape.back();
  ReduceDesc D;
  D.Rank = 2;
  D.Shape[0] = G.size() / W, D.Shape[1] = W;
  D.Reduced[0] = true;
  C.B.reduce(D, G.ptr(), T->T.ptr() + Offset, true);
  return llvm::Error::success();
}

/// com.microsoft Attention: qkv = input · weights + bias, split by
/// qkv_hidden_sizes (default thirds), then the core.
struct MsLayout {
  int64_t B, S, In, W[3];
};

llvm::Expected<MsLayout> msLayout(OpContext &C, const Node &N) {
  const Dims &X = C.inShape(N, 0), &Wt = C.inShape(N, 1);
  if (X.size() != 3 || Wt.size() != 2 || Wt[0] != X[2])
    return C.nodeError(N, "input must be [batch, sequence, in] and weights [in, 3·hidden]");
  if (C.has(N, 4) || C.has(N, 6))
    return C.nodeError(N, "past state (KV cache) is not supported");
  MsLayout L{X[0], X[1], X[2], {Wt[1] / 3, Wt[1] / 3, Wt[1] / 3}};
  llvm::ArrayRef<int64_t> Sizes = N.getInts("qkv_hidden_sizes");
  if (Sizes.size() == 3)
    for (int I = 0; I < 3; ++I)
      L.W[I] = Sizes[I];
  if (L.W[0] + L.W[1] + L.W[2] != Wt[1])
    return C.nodeError(N, "qkv_hidden_sizes do not add up to the weights' width");
  return L;
}

} // namespace

llvm::Error gradlint::probe::attention::multiHeadForward(OpContext &C, const Node &N) {
  if (!C.has(N, 1) || !C.has(N, 2) || C.inShape(N, 1).size() != 3 ||
      C.inShape(N, 0).size() != 3 || C.has(N, 6) || C.has(N, 7))
    return C.nodeError(N, "only separate 3-D query, key and value without a "
                          "KV cache are supported");
  const Dims &Q = C.inShape(N, 0), &K = C.inShape(N, 1), &V = C.inShape(N, 2);
  auto S = contribSpec(C, N, Q[2], K[2], V[2], Q[0], Q[1], K[1]);
  if (!S)
    return S.takeError();
  Tensor In[3];
  for (unsigned I = 0; I != 3; ++I) {
    auto X = C.in(N, I);
    if (!X)
      return X.takeError();
    In[I] = *X;
  }
  if (C.has(N, 3)) {
    auto Bias = C.in(N, 3);
    if (!Bias)
      return Bias.takeError();
    int64_t Off = 0;
    for (unsigned I = 0; I != 3; ++I) {
      auto X = addBias(C, In[I], *Bias, Off);
      if (!X)
        return X.takeError();
      Off += In[I].Shape.back();
      In[I] = *X;
    }
  }
  auto Bias = contribBias(C, N, *S, 4, 5);
  if (!Bias)
    return Bias.takeError();
  return contribCore(C, N, *S, In[0], In[1], In[2], *Bias);
}

llvm::Error gradlint::probe::attention::multiHeadBackward(OpContext &C, const Node &N) {
  const Dims &Q = C.inShape(N, 0), &K = C.inShape(N, 1), &V = C.inShape(N, 2);
  auto S = contribSpec(C, N, Q[2], K[2], V[2], Q[0], Q[1], K[1]);
  if (!S)
    return S.takeError();
  Tensor G[3];
  if (llvm::Error E = contribCoreBackward(C, N, *S, G[0], G[1], G[2]))
    return E;
  int64_t Off = 0;
  for (unsigned I = 0; I != 3; ++I) {
    if (llvm::Error E = biasGrad(C, N, 3, G[I], Off))
      return E;
    Off += G[I].Shape.back();
    if (llvm::Error E = C.passGrad(N, I, G[I]))
      return E;
  }
  return llvm::Error::success();
}

llvm::Error gradlint::probe::attention::msForward(OpContext &C, const Node &N) {
  auto L = msLayout(C, N);
  if (!L)
    return L.takeError();
  auto X = C.in(N, 0);
  auto W = C.in(N, 1);
  if (!X || !W)
    return llvm::joinErrors(X.takeError(), W.takeError());
  int64_t Width = L->W[0] + L->W[1] + L->W[2], Rows = L->B * L->S;
  auto QKV = C.alloc({L->B, L->S, Width});
  if (!QKV)
    return QKV.takeError();
  GemmDesc G;
  G.M = Rows, G.N = Width, G.K = L->In, G.Lda = L->In, G.Ldb = Width, G.Ldc = Width;
  C.B.gemm(G, X->ptr(), W->ptr(), QKV->ptr());
  Tensor Proj = *QKV;
  if (C.has(N, 2)) {
    auto Bias = C.in(N, 2);
    if (!Bias)
      return Bias.takeError();
    auto P = addBias(C, *QKV, *Bias, 0);
    if (!P)
      return P.takeError();
    Proj = *P;
  }
  Tensor Part[3];
  int64_t Off = 0;
  for (int I = 0; I < 3; ++I) {
    CopyPlan CP;
    CP.Shape = {Rows, L->W[I]};
    CP.Src = {Width, 1};
    CP.Dst = {L->W[I], 1};
    auto CD = CP.build();
    auto T = C.alloc({L->B, L->S, L->W[I]});
    if (!CD || !T)
      return llvm::joinErrors(CD.takeError(), T.takeError());
    C.B.copy(*CD, Proj.ptr() + Off, T->ptr(), false);
    Part[I] = *T;
    Off += L->W[I];
  }
  auto S = contribSpec(C, N, L->W[0], L->W[1], L->W[2], L->B, L->S, L->S);
  if (!S)
    return S.takeError();
  auto Bias = contribBias(C, N, *S, 3, 5);
  if (!Bias)
    return Bias.takeError();
  if (llvm::Error E = contribCore(C, N, *S, Part[0], Part[1], Part[2], *Bias))
    return E;
  if (C.backwardNeeded(N)) { // after the core's five: the input and weights
    C.save(N, *X);
    C.save(N, *W);
  }
  return llvm::Error::success();
}

llvm::Error gradlint::probe::attention::msBackward(OpContext &C, const Node &N) {
  auto L = msLayout(C, N);
  if (!L)
    return L.takeError();
  auto S = contribSpec(C, N, L->W[0], L->W[1], L->W[2], L->B, L->S, L->S);
  if (!S)
    return S.takeError();
  Tensor G[3];
  if (llvm::Error E = contribCoreBackward(C, N, *S, G[0], G[1], G[2]))
    return E;
  int64_t Width = L->W[0] + L->W[1] + L->W[2], Rows = L->B * L->S;
  auto DQKV = C.alloc({L->B, L->S, Width});
  if (!DQKV)
    return DQKV.takeError();
  int64_t Off = 0;
  for (int I = 0; I < 3; ++I) {
    CopyPlan CP;
    CP.Shape = {Rows, L->W[I]};
    CP.Src = {L->W[I], 1};
    CP.Dst = {Width, 1};
    auto CD = CP.build();
    if (!CD)
      return CD.takeError();
    C.B.copy(*CD, G[I].ptr(), DQKV->ptr() + Off, false);
    Off += L->W[I];
  }
  if (llvm::Error E = biasGrad(C, N, 2, *DQKV, 0))
    return E;
  const Tensor &X = C.saved(N, 5), &W = C.saved(N, 6);
  if (C.needsGrad(N, 0)) { // dX = dQKV Wᵀ
    auto T = C.gradIn(N, 0);
    if (!T)
      return T.takeError();
    GemmDesc D;
    D.TransB = true, D.M = Rows, D.N = L->In, D.K = Width;
    D.Lda = Width, D.Ldb = Width, D.Ldc = L->In, D.Beta = T->Acc ? 1 : 0;
    C.B.gemm(D, DQKV->ptr(), W.ptr(), T->T.ptr());
  }
  if (C.needsGrad(N, 1)) { // dW = Xᵀ dQKV
    auto T = C.gradIn(N, 1);
    if (!T)
      return T.takeError();
    GemmDesc D;
    D.TransA = true, D.M = L->In, D.N = Width, D.K = Rows;
    D.Lda = L->In, D.Ldb = Width, D.Ldc = Width, D.Beta = T->Acc ? 1 : 0;
    C.B.gemm(D, X.ptr(), DQKV->ptr(), T->T.ptr());
  }
  return llvm::Error::success();
}
