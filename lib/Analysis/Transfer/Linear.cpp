//===- Linear.cpp - MatMul and Gemm: weights and bilinear products --------===//
//
//   y = x·W (+ b):  mean_y = mean_x W, var_y[m] = Σ_k var_x[k] W[k,m]²
//                   g_x energy = ‖W‖_F²/M · ‖g_y‖²   (g_y isotropic)
//                   ‖dW‖² = N ‖mean_x‖² Coherent(g_y) + Σ var_x · Varying(g_y)
//   y = A·B (two activations, e.g. QKᵀ and P·V): independent factors; when
//   g_y's rows sum to zero (after a softmax) the other factor is centred.
//   P·V after a softmax uses the per-row softmax statistics (E[P], Σp²).
//
//===----------------------------------------------------------------------===//
#include "../Analyzer.h"

using namespace gradlint;
using namespace gradlint::analysis;

namespace {

/// A 2-D constant matrix operand as [K][M] (K contracted), with its ValueId
/// behind any Transpose; empty when the operand is an activation.
struct Weight {
  ValueId Init = NoId;
  bool Transposed = false; ///< the initializer is stored [M][K]
  int64_t K = 0, M = 0;
};

Weight weightOperand(const Analyzer &A, ValueId B, bool TransB) {
  Weight W;
  if (B == NoId)
    return W;
  const Value &V = A.val(B);
  ValueId Init = B;
  bool Trans = TransB;
  if (V.Producer != NoId) {
    const Node &P = A.G.Nodes[V.Producer];
    llvm::ArrayRef<int64_t> Perm = P.getInts("perm");
    if (P.Kind != OpKind::Transpose ||
        !(Perm.empty() || (Perm.size() == 2 && Perm[0] == 1 && Perm[1] == 0)))
      return W;
    Init = P.input(0);
    Trans = !Trans;
  }
  const TensorData *T = A.G.initializer(Init);
  if (!T || T->Shape.size() != 2 || !isFloatingPoint(T->Type))
    return W;
  W.Init = Init;
  W.Transposed = Trans;
  W.K = Trans ? T->Shape[1] : T->Shape[0];
  W.M = Trans ? T->Shape[0] : T->Shape[1];
  return W;
}

/// Element (k, m) of the weight from the initializer's row-major data.
double at(const std::vector<double> &D, const Weight &W, int64_t K, int64_t M) {
  return W.Transposed ? D[M * W.K + K] : D[K * W.M + M];
}

} // namespace

bool analysis::forwardLinear(Analyzer &A, const Node &N) {
  ValueId Out = N.Outputs[0];
  const FwdState *X = A.fwd(N.input(0));
  if (!X)
    return false;
  bool Gemm = N.Kind == OpKind::Gemm;
  if (Gemm && N.getInt("transA", 0))
    return false;
  double Alpha = Gemm ? N.getFloat("alpha", 1) : 1, Beta = Gemm ? N.getFloat("beta", 1) : 1;
  Weight W = weightOperand(A, N.input(1), Gemm && N.getInt("transB", 0));
  ValueSummary S = A.blank(Out);
  if (W.Init != NoId) {
    std::vector<double> D;
    A.G.initializer(W.Init)->toDoubles(D);
    if (X->S.Features != W.K)
      return false;
    double MaxIn = std::max(std::fabs(X->S.Min), std::fabs(X->S.Max));
    double ColAbsMax = 0;
    for (int64_t M = 0; M < W.M; ++M) {
      double Mean = 0, Var = 0, ColAbs = 0;
      for (int64_t K = 0; K < W.K; ++K) {
        double Wkm = at(D, W, K, M);
        Mean += X->S.Mean[K] * Wkm;
        Var += X->S.Var[K] * Wkm * Wkm;
        ColAbs += std::fabs(Wkm);
      }
      S.Mean[M] = Alpha * Mean;
      S.Var[M] = Alpha * Alpha * Var;
      ColAbsMax = std::max(ColAbsMax, ColAbs);
    }
    S.Min = -Alpha * MaxIn * ColAbsMax;
    S.Max = Alpha * MaxIn * ColAbsMax;
  } else {
    const FwdState *Y = A.fwd(N.input(1));
    if (!Y)
      return false;
    // Independent factors: per output feature m of B.
    double SumM2A = 0, SumMean2A = 0, SumMeanA = 0;
    for (int64_t K = 0; K < X->S.Features; ++K) {
      SumM2A += X->S.Var[K] + X->S.Mean[K] * X->S.Mean[K];
      SumMean2A += X->S.Mean[K] * X->S.Mean[K];
      SumMeanA += X->S.Mean[K];
    }
    for (int64_t M = 0; M < S.Features; ++M) {
      int64_t J = Y->S.Features == 1 ? 0 : M % Y->S.Features;
      double MB = Y->S.Mean[J], M2B = Y->S.Var[J] + MB * MB;
      S.Mean[M] = Alpha * SumMeanA * MB;
      S.Var[M] = Alpha * Alpha * std::max(0.0, SumM2A * M2B - SumMean2A * MB * MB);
    }
    double Bound = X->S.Features * std::max(std::fabs(X->S.Min), std::fabs(X->S.Max)) *
                   std::max(std::fabs(Y->S.Min), std::fabs(Y->S.Max));
    S.Min = -Bound;
    S.Max = Bound;
  }
  if (Gemm && N.input(2) != NoId) {
    const FwdState *C = A.fwd(N.input(2));
    if (C)
      for (int64_t M = 0; M < S.Features; ++M) {
        int64_t J = C->S.Features == 1 ? 0 : M % C->S.Features;
        S.Mean[M] += Beta * C->S.Mean[J];
        S.Var[M] += Beta * Beta * C->S.Var[J];
      }
  }
  A.setFwd(Out, S);
  return true;
}

/// Softmax statistics of the producer of V, when V is a softmax output.
static const SoftmaxRows *softmaxOf(const Analyzer &A, ValueId V) {
  NodeId P = A.val(V).Producer;
  if (P == NoId)
    return nullptr;
  auto It = A.Softmax.find(P);
  return It == A.Softmax.end() ? nullptr : &It->second;
}

bool analysis::backwardLinear(Analyzer &A, const Node &N) {
  ValueId Out = N.Outputs[0];
  const GradState &G = A.grad(Out);
  const FwdState *X = A.fwd(N.input(0)), *Y = A.fwd(N.input(1));
  if (!X || !Y)
    return false;
  bool Gemm = N.Kind == OpKind::Gemm;
  double Alpha = Gemm ? N.getFloat("alpha", 1) : 1, Beta = Gemm ? N.getFloat("beta", 1) : 1;
  double A2 = Alpha * Alpha;
  const Value &OutV = A.val(Out);
  Weight W = weightOperand(A, N.input(1), Gemm && N.getInt("transB", 0));
  int64_t Contract = X->S.Features;

  // dL/dA.
  GradState GA;
  if (W.Init != NoId) {
    double Frob2 = A.WeightFrob2[W.Init], Spec = A.WeightSpectral[W.Init];
    GA = Analyzer::scaled(G, A2 * Frob2 / std::max<int64_t>(1, W.M), 0.05,
                          std::fabs(Alpha) * Spec);
  } else {
    // B is [.., K, M]. If B = Transpose(X') with X' [.., M, K], the
    // contraction runs over X''s features and we know their moments.
    double Factor;
    const Value &BV = A.val(N.input(1));
    const Node *BT = BV.Producer != NoId ? &A.G.Nodes[BV.Producer] : nullptr;
    bool SwapLast2 = false;
    if (BT && BT->Kind == OpKind::Transpose) {
      llvm::ArrayRef<int64_t> P = BT->getInts("perm");
      size_t R = P.size();
      SwapLast2 = R >= 2 && P[R - 1] == int64_t(R - 2) && P[R - 2] == int64_t(R - 1);
    }
    const FwdState *Inner = SwapLast2 ? A.fwd(BT->input(0)) : nullptr;
    if (Inner) {
      // g_A[n,k] = Σ_m g[n,m] X'[m,k]: ‖g_A‖² = ‖g‖² Σ_k m2[k] (centred
      // when g's rows sum to zero: Σ_m g[n,m] c_k = 0).
      Factor = G.ZeroRowSum ? Analyzer::sumRowVar(*Inner)
                            : Analyzer::sumVar(Inner->S) + Analyzer::sumMean2(Inner->S);
    } else {
      bool AfterSoftmax = softmaxOf(A, N.input(0)) != nullptr;
      // After a softmax only the part of B that varies over the keys
      // survives (J·1 = 0): per feature, its variance over rows.
      double M2 = AfterSoftmax ? Analyzer::sumRowVar(*Y) / std::max<int64_t>(1, Y->S.Features)
                               : Analyzer::pooledM2(Y->S);
      Factor = Contract * M2;
    }
    // Tokens collapsing onto one representation leave little variance for
    // the centred factor; a per-position model overestimates what is left.
    double Tau = 0.08;
    if (Inner && G.ZeroRowSum) {
      double V = Analyzer::sumRowVar(*Inner), M2 = V + Analyzer::sumMean2(Inner->S);
      if (V > 0 && M2 > 0)
        Tau = std::hypot(Tau, 0.5 * std::log10(M2 / V));
    }
    GA = Analyzer::scaled(G, A2 * Factor, Tau,
                          std::fabs(Alpha) * std::sqrt(double(Contract)) *
                              std::max(std::fabs(Y->S.Min), std::fabs(Y->S.Max)) *
                              std::sqrt(double(OutV.Shape.back())));
  }
  A.addGrad(N.input(0), GA);

  // dL/dB: Σ over rows of x_nᵀ g_n, per batch slice.
  {
    int64_t RowsPerSlice = A.val(N.input(0)).Shape.size() >= 2
                               ? A.val(N.input(0)).Shape[A.val(N.input(0)).Shape.size() - 2]
                               : 1;
    if (W.Init != NoId)
      RowsPerSlice = X->S.Rows; // a shared weight sums over every row
    GradState GB = G;
    double E;
    if (const SoftmaxRows *P = softmaxOf(A, N.input(0))) {
      // g_V = Pᵀ g_O: coherent parts meet the column sums of P, varying
      // parts the row sums of p².
      double ColSum2 = 0, RowP2 = 0;
      for (double C : P->ColSum)
        ColSum2 += C * C;
      for (double S2 : P->SumP2)
        RowP2 += S2;
      double Tq = std::max<size_t>(1, P->SumP2.size());
      RowP2 /= Tq;
      E = G.Coherent * ColSum2 / Tq + G.Varying * RowP2;
      GB.Coherent = G.Coherent * Tq / std::max<int64_t>(1, P->Keys);
      GB.Coherent = std::min(GB.Coherent, E);
      GB.Varying = E - GB.Coherent;
      GB.Sigma2 += 0.1 * 0.1;
    } else {
      E = RowsPerSlice * Analyzer::sumMean2(X->S) * G.Coherent +
          Analyzer::sumVar(X->S) * G.Varying;
      GB.Coherent = 0;
      GB.Varying = E;
      GB.Sigma2 += 0.05 * 0.05;
      // g_Kᵀ = Qᵀ g_S: rows of g_S summing to zero make g_Kᵀ's rows sum to
      // zero too (Σ_j g_Kᵀ[k, j] = Σ_i Q[i,k] Σ_j g_S[i,j] = 0).
      GB.ZeroRowSum = G.ZeroRowSum;
    }
    GB.Coherent *= A2;
    GB.Varying *= A2;
    GB.OnesFree = 0;
    GB.Lip = G.Lip * std::fabs(Alpha) *
             std::sqrt(double(X->S.Rows) * X->S.Features) *
             std::max(std::fabs(X->S.Min), std::fabs(X->S.Max));
    A.addGrad(N.input(1), GB);
  }
  if (Gemm && N.input(2) != NoId && A.differentiable(N.input(2))) {
    GradState GC = A.reduceBroadcast(G, Out, N.input(2));
    GC.Coherent *= Beta * Beta;
    GC.Varying *= Beta * Beta;
    A.addGrad(N.input(2), GC);
  }
  return true;
}
