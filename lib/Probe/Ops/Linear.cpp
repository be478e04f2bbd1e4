//===- Linear.cpp - MatMul and Gemm: lowering and gradient ----------------===//
//
// MatMul follows numpy: 1-D operands gain a unit dimension, batch
// dimensions broadcast. A weight without batch dimensions (the common
// x @ W) becomes one GEMM over all rows, and so do its gradients.
//
//===----------------------------------------------------------------------===//
#include "Layout.h"
#include "Rules.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {

/// MatMul as GEMM calls: one call over flattened rows when B has no batch,
/// else one per output batch with the operands' element offsets.
struct MatMulPlan {
  int64_t M = 0, N = 0, K = 0;
  bool Flat = false;        ///< A's batch folded into M
  int64_t Rows = 0;         ///< M times A's batch when Flat
  struct Batch {
    int64_t A, B, C;
  };
  std::vector<Batch> Batches;
  bool ARepeats = false, BRepeats = false; ///< an operand feeds several batches
};

llvm::Expected<MatMulPlan> planMatMul(OpContext &C, const Node &N,
                                      llvm::ArrayRef<int64_t> AS,
                                      llvm::ArrayRef<int64_t> BS) {
  Dims A(AS.begin(), AS.end()), B(BS.begin(), BS.end());
  if (A.empty() || B.empty())
    return C.nodeError(N, "MatMul operands must have rank >= 1");
  if (A.size() == 1)
    A.insert(A.begin(), 1);
  if (B.size() == 1)
    B.push_back(1);
  MatMulPlan P;
  P.M = A[A.size() - 2];
  P.K = A.back();
  P.N = B.back();
  if (B[B.size() - 2] != P.K)
    return C.nodeError(N, "inner dimensions " + llvm::Twine(P.K) + " and " +
                              llvm::Twine(B[B.size() - 2]) + " differ");
  Dims BA(A.begin(), A.end() - 2), BB(B.begin(), B.end() - 2);
  if (product(BB) == 1) {
    P.Flat = true;
    P.Rows = product(BA) * P.M;
    return P;
  }
  Dims Out;
  if (!broadcastShapes(BA, BB, Out))
    return C.nodeError(N, "batch dimensions do not broadcast");
  size_t R = Out.size();
  Dims SA = denseStrides(BA), SB = denseStrides(BB);
  int64_t Count = product(Out);
  Dims Idx(R, 0);
  for (int64_t I = 0; I < Count; ++I) {
    int64_t OA = 0, OB = 0;
    for (size_t D = 0; D != R; ++D) {
      size_t LA = D + BA.size() - R, LB = D + BB.size() - R;
      if (D + BA.size() >= R && BA[LA] != 1)
        OA += Idx[D] * SA[LA];
      if (D + BB.size() >= R && BB[LB] != 1)
        OB += Idx[D] * SB[LB];
    }
    P.Batches.push_back({OA * P.M * P.K, OB * P.K * P.N, I * P.M * P.N});
    for (int D = static_cast<int>(R) - 1; D >= 0; --D) {
      if (++Idx[D] < Out[D])
        break;
      Idx[D] = 0;
    }
  }
  P.ARepeats = product(BA) < Count;
  P.BRepeats = product(BB) < Count;
  return P;
}

/// Runs C_b = op(A_b) op(B_b) for each batch, merging uniform strides into
/// one batched call.
/// Offsets of the two operands and the output of batch b: Pick(b, 0..2).
using PickFn = int64_t (*)(const MatMulPlan::Batch &, int);

/// Where an output region repeats (a broadcast operand's gradient), the
/// caller zeroed it and Acc is true, so every call accumulates.
void runBatches(Backend &Be, GemmDesc D, const std::vector<MatMulPlan::Batch> &Bs,
                PickFn Pick, FPtr A, FPtr B, FPtr Out, bool Acc) {
  size_t I = 0;
  while (I < Bs.size()) {
    int64_t SA = 0, SB = 0, SC = 0;
    size_t J = I + 1;
    if (J < Bs.size()) {
      SA = Pick(Bs[J], 0) - Pick(Bs[I], 0);
      SB = Pick(Bs[J], 1) - Pick(Bs[I], 1);
      SC = Pick(Bs[J], 2) - Pick(Bs[I], 2);
      // A batch writes each output region once only when SC != 0.
      while (SC != 0 && J < Bs.size() &&
             Pick(Bs[J], 0) - Pick(Bs[J - 1], 0) == SA &&
             Pick(Bs[J], 1) - Pick(Bs[J - 1], 1) == SB &&
             Pick(Bs[J], 2) - Pick(Bs[J - 1], 2) == SC)
        ++J;
      if (SC == 0)
        J = I + 1;
    }
    GemmDesc G = D;
    G.Batch = J - I;
    G.StrideA = SA;
    G.StrideB = SB;
    G.StrideC = SC;
    G.Beta = Acc ? 1.0f : 0.0f;
    Be.gemm(G, A + Pick(Bs[I], 0), B + Pick(Bs[I], 1), Out + Pick(Bs[I], 2));
    I = J;
  }
}

} // namespace

llvm::Error gradlint::probe::matMulForward(OpContext &C, const Node &N,
                                           const OpRule &R) {
  auto A = C.in(N, 0);
  if (!A)
    return A.takeError();
  auto B = C.in(N, 1);
  if (!B)
    return B.takeError();
  auto P = planMatMul(C, N, A->Shape, B->Shape);
  if (!P)
    return P.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  GemmDesc D;
  D.N = P->N;
  D.K = P->K;
  D.Lda = P->K;
  D.Ldb = P->N;
  D.Ldc = P->N;
  if (P->Flat) {
    D.M = P->Rows;
    C.B.gemm(D, A->ptr(), B->ptr(), Y->ptr());
  } else {
    D.M = P->M;
    for (size_t I = 0; I < P->Batches.size();) {
      // Uniform strides: one batched call.
      size_t J = I + 1;
      int64_t SA = 0, SB = 0;
      if (J < P->Batches.size()) {
        SA = P->Batches[J].A - P->Batches[I].A;
        SB = P->Batches[J].B - P->Batches[I].B;
        while (J < P->Batches.size() &&
               P->Batches[J].A - P->Batches[J - 1].A == SA &&
               P->Batches[J].B - P->Batches[J - 1].B == SB)
          ++J;
      }
      GemmDesc G = D;
      G.Batch = J - I;
      G.StrideA = SA;
      G.StrideB = SB;
      G.StrideC = P->M * P->N;
      C.B.gemm(G, A->ptr() + P->Batches[I].A, B->ptr() + P->Batches[I].B,
               Y->ptr() + P->Batches[I].C);
      I = J;
    }
  }
  if (C.backwardNeeded(N)) {
    C.save(N, *A);
    C.save(N, *B);
  }
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::matMulBackward(OpContext &C, const Node &N,
                                            const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  const Tensor &A = C.saved(N, 0), &B = C.saved(N, 1);
  auto P = planMatMul(C, N, A.Shape, B.Shape);
  if (!P)
    return P.takeError();
  if (P->Flat) {
    if (C.needsGrad(N, 0)) { // dA = dY B^T
      auto T = C.gradIn(N, 0);
      if (!T)
        return T.takeError();
      GemmDesc D;
      D.TransB = true;
      D.M = P->Rows, D.N = P->K, D.K = P->N;
      D.Lda = P->N, D.Ldb = P->N, D.Ldc = P->K;
      D.Beta = T->Acc ? 1 : 0;
      C.B.gemm(D, DY->ptr(), B.ptr(), T->T.ptr());
    }
    if (C.needsGrad(N, 1)) { // dB = A^T dY over all rows
      auto T = C.gradIn(N, 1);
      if (!T)
        return T.takeError();
      GemmDesc D;
      D.TransA = true;
      D.M = P->K, D.N = P->N, D.K = P->Rows;
      D.Lda = P->K, D.Ldb = P->N, D.Ldc = P->N;
      D.Beta = T->Acc ? 1 : 0;
      C.B.gemm(D, A.ptr(), DY->ptr(), T->T.ptr());
    }
    return llvm::Error::success();
  }
  using Batch = MatMulPlan::Batch;
  if (C.needsGrad(N, 0)) { // dA_b += dY_b B_b^T
    auto T = C.gradIn(N, 0, /*Zeroed=*/P->ARepeats);
    if (!T)
      return T.takeError();
    GemmDesc D;
    D.TransB = true;
    D.M = P->M, D.N = P->K, D.K = P->N;
    D.Lda = P->N, D.Ldb = P->N, D.Ldc = P->K;
    // Operands: dY at C, B at B; output dA at A.
    runBatches(C.B, D, P->Batches,
               [](const Batch &X, int W) { return W == 0 ? X.C : W == 1 ? X.B : X.A; },
               DY->ptr(), B.ptr(), T->T.ptr(), T->Acc);
  }
  if (C.needsGrad(N, 1)) { // dB_b += A_b^T dY_b
    auto T = C.gradIn(N, 1, /*Zeroed=*/P->BRepeats);
    if (!T)
      return T.takeError();
    GemmDesc D;
    D.TransA = true;
    D.M = P->K, D.N = P->N, D.K = P->M;
    D.Lda = P->K, D.Ldb = P->N, D.Ldc = P->N;
    runBatches(C.B, D, P->Batches,
               [](const Batch &X, int W) { return W == 0 ? X.A : W == 1 ? X.C : X.B; },
               A.ptr(), DY->ptr(), T->T.ptr(), T->Acc);
  }
  return llvm::Error::success();
}

//===--- Gemm -------------------------------------------------------------===//

namespace {
struct GemmAttrs {
  bool TA, TB;
  float Alpha, Beta;
  int64_t M, N, K;
};

llvm::Expected<GemmAttrs> gemmAttrs(OpContext &C, const Node &N,
                                    llvm::ArrayRef<int64_t> A,
                                    llvm::ArrayRef<int64_t> B) {
  if (A.size() != 2 || B.size() != 2)
    return C.nodeError(N, "Gemm operands must be matrices");
  GemmAttrs G;
  G.TA = N.getInt("transA", 0);
  G.TB = N.getInt("transB", 0);
  G.Alpha = N.getFloat("alpha", 1.0f);
  G.Beta = N.getFloat("beta", 1.0f);
  G.M = G.TA ? A[1] : A[0];
  G.K = G.TA ? A[0] : A[1];
  G.N = G.TB ? B[0] : B[1];
  return G;
}
} // namespace

llvm::Error gradlint::probe::gemmForward(OpContext &C, const Node &N,
                                         const OpRule &R) {
  auto A = C.in(N, 0);
  if (!A)
    return A.takeError();
  auto B = C.in(N, 1);
  if (!B)
    return B.takeError();
  auto G = gemmAttrs(C, N, A->Shape, B->Shape);
  if (!G)
    return G.takeError();
  auto Y = C.allocOut(N, 0);
  if (!Y)
    return Y.takeError();
  GemmDesc D;
  D.TransA = G->TA, D.TransB = G->TB;
  D.M = G->M, D.N = G->N, D.K = G->K;
  D.Lda = A->Shape[1], D.Ldb = B->Shape[1], D.Ldc = G->N;
  D.Alpha = G->Alpha;
  if (C.has(N, 2) && G->Beta != 0) {
    auto Bias = C.in(N, 2);
    if (!Bias)
      return Bias.takeError();
    auto BD = broadcastDesc({G->M, G->N}, {Bias->Shape});
    if (!BD)
      return C.nodeError(N, llvm::toString(BD.takeError()));
    CopyPlan CP;
    CP.Shape.assign(BD->Shape, BD->Shape + BD->Rank);
    CP.Src.assign(BD->Stride[0], BD->Stride[0] + BD->Rank);
    CP.Dst = denseStrides(CP.Shape);
    CP.Alpha = G->Beta;
    auto CD = CP.build();
    if (!CD)
      return CD.takeError();
    C.B.copy(*CD, Bias->ptr(), Y->ptr(), false);
    D.Beta = 1;
  }
  C.B.gemm(D, A->ptr(), B->ptr(), Y->ptr());
  if (C.backwardNeeded(N)) {
    C.save(N, *A);
    C.save(N, *B);
  }
  return C.out(N, 0, *Y);
}

llvm::Error gradlint::probe::gemmBackward(OpContext &C, const Node &N,
                                          const OpRule &R) {
  const Tensor *DY = C.gradOut(N, 0);
  if (!DY)
    return llvm::Error::success();
  const Tensor &A = C.saved(N, 0), &B = C.saved(N, 1);
  auto G = gemmAttrs(C, N, A.Shape, B.Shape);
  if (!G)
    return G.takeError();
  int64_t M = G->M, NN = G->N, K = G->K;
  if (C.needsGrad(N, 0)) {
    auto T = C.gradIn(N, 0);
    if (!T)
      return T.takeError();
    GemmDesc D;
    D.Alpha = G->Alpha;
    D.Beta = T->Acc ? 1 : 0;
    if (!G->TA) { // dA[M,K] = dY[M,N] op(B)^T
      D.M = M, D.N = K, D.K = NN;
      D.Lda = NN;
      D.TransB = !G->TB;
      D.Ldb = G->TB ? K : NN;
      D.Ldc = K;
      C.B.gemm(D, DY->ptr(), B.ptr(), T->T.ptr());
    } else { // dA[K,M] = op(B)[K,N] dY^T
      D.M = K, D.N = M, D.K = NN;
      D.TransA = G->TB;
      D.Lda = G->TB ? K : NN;
      D.TransB = true;
      D.Ldb = NN;
      D.Ldc = M;
      C.B.gemm(D, B.ptr(), DY->ptr(), T->T.ptr());
    }
  }
  if (C.needsGrad(N, 1)) {
    auto T = C.gradIn(N, 1);
    if (!T)
      return T.takeError();
    GemmDesc D;
    D.Alpha = G->Alpha;
    D.Beta = T->Acc ? 1 : 0;
    if (!G->TB) { // dB[K,N] = op(A)^T[K,M] dY[M,N]
      D.M = K, D.N = NN, D.K = M;
      D.TransA = !G->TA;
      D.Lda = G->TA ? M : K;
      D.Ldb = NN;
      D.Ldc = NN;
      C.B.gemm(D, A.ptr(), DY->ptr(), T->T.ptr());
    } else { // dB[N,K] = dY^T[N,M] op(A)[M,K]
      D.M = NN, D.N = K, D.K = M;
      D.TransA = true;
      D.Lda = NN;
      D.TransB = G->TA;
      D.Ldb = G->TA ? M : K;
      D.Ldc = K;
      C.B.gemm(D, DY->ptr(), A.ptr(), T->T.ptr());
    }
  }
  if (C.has(N, 2) && C.needsGrad(N, 2) && G->Beta != 0)
    return C.reduceGradInto(N, 2, *DY, G->Beta);
  return llvm::Error::success();
}
