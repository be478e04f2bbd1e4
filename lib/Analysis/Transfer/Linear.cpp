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
#include <cblas.h>

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

/// α D W for per-position means D [T × K], the weight as stored ([K][M],
/// or [M][K] when transposed): one double-precision BLAS product.
static std::vector<double> positionsThrough(const PositionMeans &P,
                                            const std::vector<double> &Wd,
                                            const Weight &W, double Alpha) {
  int64_t T = P.R, K = W.K, M = W.M;
  std::vector<double> Out(T * M, 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, W.Transposed ? CblasTrans : CblasNoTrans,
              static_cast<int>(T), static_cast<int>(M), static_cast<int>(K), Alpha,
              P.D.data(), static_cast<int>(K), Wd.data(),
              static_cast<int>(W.Transposed ? K : M), 0.0, Out.data(), static_cast<int>(M));
  return Out;
}

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
  std::vector<double> PosOut, ScaleOut;
  if (W.Init != NoId) {
    // An attention's output projection: its input's per-position means and
    // the mean they move into it come from V and E[P] (static analysis only;
    // calibrated values are measured).
    NodeId Id = &N - A.G.Nodes.data();
    if (auto It = A.AttentionAtOut.find(Id); It != A.AttentionAtOut.end())
      forwardAttentionContext(A, *It->second, N.input(0));
    std::vector<double> D;
    A.G.initializer(W.Init)->toDoubles(D);
    if (X->S.Features != W.K)
      return false;
    // Per-position means through the weights: D_out = α D_x W (skipped for
    // products too large to be worth it, e.g. a vocabulary head).
    auto P = A.positions(N.input(0));
    const Dims &OS = A.val(Out).Shape;
    if (P && P->F == W.K && OS.size() >= 2 && OS[OS.size() - 2] == P->T &&
        double(P->R) * W.K * W.M <= 4e8) {
      // Positions that differ only in their variance map to zero means.
      PosOut = llvm::any_of(P->D, [](double X) { return X != 0; })
                   ? positionsThrough(*P, D, W, Alpha)
                   : std::vector<double>(P->R * W.M, 0.0);
      ScaleOut = P->Scale; // each token mapped alike
    }
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
  if (!PosOut.empty())
    A.setPositions(Out, std::move(PosOut), std::move(ScaleOut));
  if (W.Init != NoId) // one linear map of every token: the shared share stays
    A.setShared(Out, X->S.SequenceShared);
  return true;
}

void analysis::forwardAttentionContext(Analyzer &A, const AttentionInfo &Att,
                                       ValueId Context) {
  // o_i = Σ_j p_ij v_j with rows of P summing to one, so per position
  //   E[o_i] = Mean_v + Σ_j E[p_ij] D_v[j] :
  // the context's mean gains δ = mean_i Σ_j E[p_ij] D_v[j] (causal rows weight
  // the first positions most), its positions keep the rest, and its noise is
  // V's noise (variance less positional spread) averaged with weights Σp².
  //
  // What the tokens of a sequence share: V's shared part c passes whole
  // (Σ_j p_ij c = c); its independent part, averaged by rows i and k, keeps
  // a covariance Σ_j E[p_ij] E[p_kj] between them — c2 on average over
  // pairs — against Σp² (s2) of variance in each.
  auto Sm = A.Softmax.find(Att.Softmax);
  const FwdState *V = A.fwd(Att.VValue);
  if (Sm == A.Softmax.end() || !V || !A.fwd(Context))
    return;
  const SoftmaxRows &Rows = Sm->second;
  const Dims &CS = A.val(Context).Shape;
  int64_t T = Rows.SumP2.size(), Fe = V->S.Features;
  if (CS.size() < 2 || CS.back() != Fe || CS[CS.size() - 2] != T || Rows.Keys != T ||
      !Rows.hasMeans() || T < 2)
    return;
  // Rows of D are positions, or anchors standing for the positions nearest
  // them (PositionMeans): E[p_ij] is summed into the key's anchor row.
  int64_t R = PositionMeans::rowsFor(T);
  auto PV = A.positions(Att.VValue);
  if (PV && (PV->T != T || PV->F != Fe))
    PV = nullptr;
  std::vector<double> D(R * Fe, 0.0), Delta(Fe, 0.0), PosVarV(Fe, 0.0), PosVarO(Fe, 0.0);
  if (PV) {
    std::vector<double> W(R);
    for (int64_t Row = 0; Row < R; ++Row) {
      int64_t I = PositionMeans::positionOf(Row, T);
      std::fill(W.begin(), W.end(), 0.0);
      for (int64_t J = 0; J < T; ++J)
        W[PositionMeans::rowOf(J, T)] += Rows.meanP(I, J);
      for (int64_t B = 0; B < R; ++B)
        if (W[B] != 0)
          for (int64_t F = 0; F < Fe; ++F)
            D[Row * Fe + F] += W[B] * PV->D[B * Fe + F];
    }
    for (int64_t Row = 0; Row < R; ++Row)
      for (int64_t F = 0; F < Fe; ++F) {
        Delta[F] += D[Row * Fe + F] / R;
        PosVarV[F] += PV->D[Row * Fe + F] * PV->D[Row * Fe + F] / R;
      }
    for (int64_t Row = 0; Row < R; ++Row)
      for (int64_t F = 0; F < Fe; ++F) {
        D[Row * Fe + F] -= Delta[F];
        PosVarO[F] += D[Row * Fe + F] * D[Row * Fe + F] / R;
      }
  }
  double SumP2 = 0, ColSum2 = 0;
  for (double X : Rows.SumP2)
    SumP2 += X / T;
  for (double C : Rows.ColSum)
    ColSum2 += C * C;
  double Cross = std::max(0.0, (ColSum2 - Rows.SumMeanP2) / (double(T) * (T - 1)));
  double Rho = V->S.SequenceShared, SharedOut = 0, VarOut = 0;
  ValueSummary S = A.F[Context].S;
  for (int64_t F = 0; F < Fe; ++F) {
    double Noise = std::max(0.0, V->S.Var[F] - PosVarV[F]);
    S.Mean[F] = V->S.Mean[F] + Delta[F];
    S.Var[F] = Rho * Noise + SumP2 * (1 - Rho) * Noise + PosVarO[F];
    SharedOut += Rho * Noise + Cross * (1 - Rho) * Noise;
    VarOut += S.Var[F];
  }
  // Row i's noise: ρ + Σ_j p_ij² (1 − ρ) of V's — the first causal rows,
  // averaging fewest keys, vary most.
  std::vector<double> Scale(R, 1.0);
  double Pooled = Rho + SumP2 * (1 - Rho);
  if (Pooled > 0)
    for (int64_t Row = 0; Row < R; ++Row)
      Scale[Row] = (Rho + Rows.SumP2[PositionMeans::positionOf(Row, T)] * (1 - Rho)) / Pooled;
  // With --calibrate the context's moments are measured: only its
  // positions and their scales come from here.
  if (!A.Opts.Calibrated)
    A.F[Context].S = std::move(S);
  A.setPositions(Context, std::move(D), std::move(Scale));
  if (!A.Opts.Calibrated)
    A.setShared(Context, VarOut > 0 ? SharedOut / VarOut : 0);
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

  // The P·V product of an attention: its output's rows are the attention
  // output's positions, whose gradient profile is known there.
  const AttentionInfo *Att = nullptr;
  if (auto It = A.AttentionAtContext.find(NodeId(&N - A.G.Nodes.data()));
      It != A.AttentionAtContext.end())
    Att = It->second;
  const GradState *Ctx = Att ? A.contextGrad(*Att) : nullptr;

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
  if (Ctx && !Ctx->Pos.empty()) // g_P's rows: the queries' positions
    GA.setPos(Ctx->Pos, Ctx->PosT);
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
      int64_t T = P->SumP2.size();
      // Rows that carry more of the gradient (Ctx's profile) weigh their Σp².
      if (Ctx && Ctx->PosT == T && !Ctx->Pos.empty()) {
        RowP2 = 0;
        for (int64_t I = 0; I < T; ++I)
          RowP2 += Ctx->pos(PositionMeans::rowOf(I, T)) * P->SumP2[I];
      }
      RowP2 /= Tq;
      E = G.Coherent * ColSum2 / Tq + G.Varying * RowP2;
      // Per key j: Σ_i E[p_ij²] e_i, with E[p_ij²] the row's Σp² shared in
      // proportion to E[p_ij]²; the coherent part meets the column sums.
      if (P->hasMeans() && P->Keys == T && T >= 2) {
        std::vector<double> EJ(T, 0.0), Mp2(T); // E[p_ij]² of row I
        for (int64_t I = 0; I < T; ++I) {
          double Sq = 0;
          for (int64_t J = 0; J < T; ++J) {
            double Mp = P->meanP(I, J);
            Mp2[J] = Mp * Mp;
            Sq += Mp2[J];
          }
          if (!(Sq > 0))
            continue;
          double W = (Ctx && Ctx->PosT == T ? Ctx->pos(PositionMeans::rowOf(I, T)) : 1.0) *
                     P->SumP2[I] / Sq * G.Varying / Tq;
          for (int64_t J = 0; J < T; ++J)
            EJ[J] += W * Mp2[J];
        }
        for (int64_t J = 0; J < T; ++J)
          EJ[J] += G.Coherent / Tq * P->ColSum[J] * P->ColSum[J];
        GB.setPosAt(EJ);
        if (Att && Att->VValue != NoId)
          A.PendingPos[Att->VValue] = {GB.Pos, T};
      }
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
      GB.setPos({}, 0);
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
