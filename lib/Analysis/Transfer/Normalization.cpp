//===- Normalization.cpp - LayerNorm, RMSNorm and their fused forms -------===//
//
// LayerNorm:  x̂ = (x − m)/σ,  J = diag(γ)/σ · (I − 11ᵀ/n − x̂x̂ᵀ/n)
// RMSNorm:    x̂ = x/rms,      J = diag(γ)/rms · (I − x̂x̂ᵀ/n)
// The row statistics 1/σ and 1/σ² are averaged over rows drawn from the
// per-feature moments (E[1/σ²] ≠ 1/E[σ²]). A gradient that already lies
// orthogonal to 1 (it came through another LayerNorm) loses only x̂'s share.
//
//===----------------------------------------------------------------------===//
#include "../Analyzer.h"

using namespace gradlint;
using namespace gradlint::analysis;

namespace {

struct NormSpec {
  bool Rms = false;
  ValueId X = NoId, Skip = NoId, Bias = NoId, Gamma = NoId, Beta = NoId;
  double Eps = 1e-5;
};

NormSpec specOf(const Node &N) {
  NormSpec S;
  S.X = N.input(0);
  switch (N.Kind) {
  case OpKind::LayerNormalization:
    S.Gamma = N.input(1);
    S.Beta = N.input(2);
    break;
  case OpKind::RMSNormalization:
  case OpKind::SimplifiedLayerNormalization:
    S.Rms = true;
    S.Gamma = N.input(1);
    break;
  case OpKind::SkipLayerNormalization:
    S.Skip = N.input(1);
    S.Gamma = N.input(2);
    S.Beta = N.input(3);
    S.Bias = N.input(4);
    break;
  case OpKind::SkipSimplifiedLayerNormalization:
    S.Rms = true;
    S.Skip = N.input(1);
    S.Gamma = N.input(2);
    S.Bias = N.input(3);
    break;
  default:
    break;
  }
  S.Eps = N.getFloat("epsilon", 1e-5f);
  return S;
}

/// Per-feature moments of the normalized input x (+ skip + bias).
ValueSummary inputMoments(const Analyzer &A, const NormSpec &S) {
  ValueSummary X = A.fwd(S.X)->S;
  for (ValueId Extra : {S.Skip, S.Bias}) {
    const FwdState *E = A.fwd(Extra);
    if (!E)
      continue;
    for (int64_t F = 0; F < X.Features; ++F) {
      int64_t J = E->S.Features == 1 ? 0 : F % E->S.Features;
      X.Mean[F] += E->S.Mean[J];
      X.Var[F] += E->S.Var[J];
    }
  }
  return X;
}

struct RowStats {
  double InvSigma = 0, InvSigma2 = 0, RowVar = 0;
};

/// E[1/σ] and E[1/σ²] over rows drawn from the per-feature moments.
RowStats rowStats(const ValueSummary &X, bool Rms, double Eps, Rng &R, int Samples = 64) {
  RowStats S;
  int64_t D = X.Features;
  std::vector<double> Row(D);
  for (int It = 0; It < Samples; ++It) {
    double Mean = 0;
    for (int64_t F = 0; F < D; ++F) {
      Row[F] = X.Mean[F] + std::sqrt(X.Var[F]) * R.normal();
      Mean += Row[F];
    }
    Mean = Rms ? 0 : Mean / D;
    double Var = 0;
    for (double V : Row)
      Var += (V - Mean) * (V - Mean);
    Var /= D;
    S.RowVar += Var;
    S.InvSigma += 1 / std::sqrt(Var + Eps);
    S.InvSigma2 += 1 / (Var + Eps);
  }
  S.RowVar /= Samples;
  S.InvSigma /= Samples;
  S.InvSigma2 /= Samples;
  return S;
}

/// The rows a norm sees, position by position where the input's positions
/// are known: position t's rows have means Mean + D_t and the rest of the
/// variance scaled by s_t (PositionMeans). A position whose mean stands out,
/// or whose rows average fewer tokens, has its own σ.
struct NormRows {
  RowStats Pooled;
  std::vector<RowStats> At;  ///< per anchor row; empty without positions
  std::vector<double> D;     ///< [At.size() × F]: the input's positions
  std::vector<double> Scale; ///< [At.size()]
  std::vector<double> Noise; ///< per feature: variance less the positions'
};

NormRows normRows(const Analyzer &A, const NormSpec &Spec, const ValueSummary &X,
                  Rng &R) {
  NormRows N;
  int64_t Fe = X.Features, T = 0;
  double NoiseSum = 0;
  for (ValueId In : {Spec.X, Spec.Skip}) {
    auto P = A.positions(In);
    const FwdState *S = A.fwd(In);
    if (!P || !S || P->F != Fe || (T && P->R != T))
      continue;
    if (!T) {
      T = P->R;
      N.D.assign(T * Fe, 0.0);
      N.Scale.assign(T, 0.0);
    }
    double Noise = Analyzer::sumVar(S->S);
    for (double Di : P->D)
      Noise -= Di * Di / T;
    Noise = std::max(0.0, Noise);
    for (size_t I = 0; I != N.D.size(); ++I)
      N.D[I] += P->D[I];
    for (int64_t Ti = 0; Ti < T; ++Ti)
      N.Scale[Ti] += P->scale(Ti) * Noise;
    NoiseSum += Noise;
  }
  if (!T || !(NoiseSum > 0)) {
    N.Pooled = rowStats(X, Spec.Rms, Spec.Eps, R);
    N.D.clear();
    N.Scale.clear();
    return N;
  }
  for (double &S : N.Scale)
    S /= NoiseSum;
  N.Noise.assign(Fe, 0.0);
  for (int64_t F = 0; F < Fe; ++F) {
    double PosVar = 0;
    for (int64_t Ti = 0; Ti < T; ++Ti)
      PosVar += N.D[Ti * Fe + F] * N.D[Ti * Fe + F] / T;
    N.Noise[F] = std::max(0.0, X.Var[F] - PosVar);
  }
  // Enough draws per position for its own σ; the pool has them all.
  int Samples = std::max<int>(8, int(1024 / T));
  ValueSummary Xt = X;
  for (int64_t Ti = 0; Ti < T; ++Ti) {
    for (int64_t F = 0; F < Fe; ++F) {
      Xt.Mean[F] = X.Mean[F] + N.D[Ti * Fe + F];
      Xt.Var[F] = N.Scale[Ti] * N.Noise[F];
    }
    N.At.push_back(rowStats(Xt, Spec.Rms, Spec.Eps, R, Samples));
    N.Pooled.RowVar += N.At.back().RowVar / T;
    N.Pooled.InvSigma += N.At.back().InvSigma / T;
    N.Pooled.InvSigma2 += N.At.back().InvSigma2 / T;
  }
  return N;
}

/// γ and β per feature: the initializers' values, else the summaries' means.
struct Affine {
  std::vector<double> Gamma, Beta;
  double GammaDefault = 1, BetaDefault = 0;
  double gamma(int64_t F) const { return F < int64_t(Gamma.size()) ? Gamma[F] : GammaDefault; }
  double beta(int64_t F) const { return F < int64_t(Beta.size()) ? Beta[F] : BetaDefault; }
};

Affine affineOf(const Analyzer &A, const NormSpec &Spec) {
  Affine Af;
  if (const TensorData *T = A.G.initializer(Spec.Gamma))
    T->toDoubles(Af.Gamma);
  if (const TensorData *T = A.G.initializer(Spec.Beta))
    T->toDoubles(Af.Beta);
  if (const FwdState *Gm = A.fwd(Spec.Gamma))
    Af.GammaDefault = Gm->S.Mean[0];
  if (const FwdState *Bt = A.fwd(Spec.Beta))
    Af.BetaDefault = Bt->S.Mean[0];
  return Af;
}

} // namespace

/// Per position t: γ (x̄_t − mean_f x̄_t) / σ_t about the pooled output mean,
/// with x̄_t = Mean + D_t. The output's mean, variance and positions follow
/// from the positions' own σ (NormRows) instead of one pooled σ.
static void normalisePositions(Analyzer &A, const NormSpec &Spec, const ValueSummary &X,
                               const NormRows &NR, const Affine &Af, ValueId Out) {
  ValueSummary S = A.fwd(Out)->S;
  int64_t T = NR.At.size(), Fe = X.Features;
  std::vector<double> Pos(T * Fe), Scale(T);
  double NoiseGain = 0; // mean_t s_t E[1/σ_t²]
  for (int64_t Ti = 0; Ti < T; ++Ti)
    NoiseGain += NR.Scale[Ti] * NR.At[Ti].InvSigma2 / T;
  for (int64_t Ti = 0; Ti < T; ++Ti) {
    double Row = 0;
    if (!Spec.Rms)
      for (int64_t F = 0; F < Fe; ++F)
        Row += (X.Mean[F] + NR.D[Ti * Fe + F]) / Fe;
    for (int64_t F = 0; F < Fe; ++F)
      Pos[Ti * Fe + F] = Af.gamma(F) * (X.Mean[F] + NR.D[Ti * Fe + F] - Row) * NR.At[Ti].InvSigma;
    Scale[Ti] = NoiseGain > 0 ? NR.Scale[Ti] * NR.At[Ti].InvSigma2 / NoiseGain : 1.0;
  }
  double Keep = Spec.Rms ? 1.0 : 1.0 - 1.0 / Fe;
  for (int64_t F = 0; F < Fe; ++F) {
    double G = Af.gamma(F), M = 0, PosVar = 0;
    for (int64_t Ti = 0; Ti < T; ++Ti)
      M += Pos[Ti * Fe + F] / T;
    for (int64_t Ti = 0; Ti < T; ++Ti) {
      Pos[Ti * Fe + F] -= M;
      PosVar += Pos[Ti * Fe + F] * Pos[Ti * Fe + F] / T;
    }
    S.Mean[F] = Af.beta(F) + M;
    S.Var[F] = G * G * NR.Noise[F] * NoiseGain * Keep + PosVar;
  }
  double Shared = A.shared(Out);
  A.setFwd(Out, S);
  A.setShared(Out, Shared);
  A.setPositions(Out, std::move(Pos), std::move(Scale));
}

static bool forwardSpec(Analyzer &A, NodeId Id, const NormSpec &Spec,
                        ValueId Out, ValueId SumOut) {
  if (!A.fwd(Spec.X) || A.fwd(Spec.X)->S.Features < 2)
    return false;
  ValueSummary X = inputMoments(A, Spec);
  Rng R = A.rng(0xa0 + Id);
  NormRows NR = normRows(A, Spec, X, R);
  const RowStats &RS = NR.Pooled;
  NodeFacts &F = A.Facts[Id];
  F.NormInputVar = RS.RowVar;
  F.NormEpsilon = Spec.Eps;
  double MeanOfMeans = Spec.Rms ? 0 : Analyzer::pooledMean(X);
  Affine Af = affineOf(A, Spec);
  ValueSummary S = A.blank(Out);
  double MaxAbs = 0;
  for (int64_t Fe = 0; Fe < S.Features; ++Fe) {
    double G = Af.gamma(Fe), B = Af.beta(Fe);
    double MeanHat = (X.Mean[Fe] - MeanOfMeans) * RS.InvSigma;
    double VarHat = X.Var[Fe] * RS.InvSigma2 * (Spec.Rms ? 1.0 : 1.0 - 1.0 / S.Features);
    S.Mean[Fe] = G * MeanHat + B;
    S.Var[Fe] = G * G * VarHat;
    MaxAbs = std::max(MaxAbs, std::fabs(G) * std::sqrt(double(S.Features)) + std::fabs(B));
  }
  S.Min = -MaxAbs;
  S.Max = MaxAbs;
  A.setFwd(Out, S);
  if (SumOut != NoId)
    A.setFwd(SumOut, X);
  // What tokens share: the inputs' shared variances, normalised alike.
  {
    double Shared = 0, Var = 0;
    for (ValueId In : {Spec.X, Spec.Skip})
      if (const FwdState *P = A.fwd(In)) {
        Shared += P->S.SequenceShared * Analyzer::sumVar(P->S);
        Var += Analyzer::sumVar(P->S);
      }
    if (Var > 0) {
      A.setShared(Out, Shared / Var);
      if (SumOut != NoId)
        A.setShared(SumOut, Shared / Var);
    }
  }
  if (NR.At.empty())
    return true;
  normalisePositions(A, Spec, X, NR, Af, Out);
  if (SumOut != NoId)
    A.setPositions(SumOut, NR.D, NR.Scale);
  return true;
}

bool analysis::forwardNormalization(Analyzer &A, NodeId Id, const Node &N) {
  NormSpec Spec = specOf(N);
  int64_t Axis = N.getInt("axis", -1);
  const Value &XV = A.val(Spec.X);
  if (Axis < 0)
    Axis += XV.Shape.size();
  if (Axis != int64_t(XV.Shape.size()) - 1)
    return false; // normalizing over several axes: not summarised here
  ValueId Sum = N.Outputs.size() > 3 ? N.Outputs[3] : NoId;
  return forwardSpec(A, Id, Spec, N.Outputs[0], Sum);
}

static bool backwardSpec(Analyzer &A, NodeId Id, const NormSpec &Spec,
                         ValueId Out, ValueId SumOut) {
  const FwdState *XS = A.fwd(Spec.X);
  if (!XS)
    return false;
  ValueSummary X = inputMoments(A, Spec);
  const GradState &G = A.grad(Out);
  int64_t D = X.Features;
  // Per-position means are released once the forward pass has read them, so
  // the backward rule draws rows from the pooled moments, and G's profile
  // over positions passes through unchanged. (Weighting it by each
  // position's own 1/σ_t² made the zoo worse: gpt_L6_noresidual's Spearman
  // 0.906 → 0.869.)
  Rng R = A.rng(0xa0 + Id);
  RowStats RS = rowStats(X, Spec.Rms, Spec.Eps, R);
  const std::vector<double> Gamma = affineOf(A, Spec).Gamma;
  double Gamma2 = 0, GammaMax = 0;
  for (double V : Gamma) {
    Gamma2 += V * V;
    GammaMax = std::max(GammaMax, std::fabs(V));
  }
  Gamma2 = Gamma.empty() ? 1.0 : Gamma2 / Gamma.size();
  if (Gamma.empty())
    GammaMax = 1;
  // The projection removes x̂ (and, for LayerNorm, 1 — unless the gradient
  // already lies orthogonal to it).
  double Removed = 1.0 / D + (Spec.Rms ? 0.0 : (1.0 - G.OnesFree) / D);
  double Factor = Gamma2 * RS.InvSigma2 * std::max(0.0, 1.0 - Removed);
  GradState C = Analyzer::scaled(G, Factor, 0.04,
                                 GammaMax / std::sqrt(std::max(Spec.Eps, 1e-12)));
  C.OnesFree = Spec.Rms ? 0.0 : 1.0;
  if (SumOut != NoId && A.grad(SumOut).Reached) {
    const GradState &Sum = A.grad(SumOut);
    C.Coherent += Sum.Coherent;
    C.Varying += Sum.Varying;
  }
  A.addGrad(Spec.X, C);
  if (Spec.Skip != NoId)
    A.addGrad(Spec.Skip, C);
  if (Spec.Bias != NoId)
    A.addGrad(Spec.Bias, A.reduceBroadcast(C, Spec.X, Spec.Bias));
  // γ and β: sums over rows of x̂ ⊙ g and of g, feature by feature.
  double N_ = std::max<int64_t>(1, X.Rows);
  double MeanOfMeans = Spec.Rms ? 0 : Analyzer::pooledMean(X);
  double HatMean2 = 0, HatVar = 0;
  for (int64_t F = 0; F < D; ++F) {
    double M = (X.Mean[F] - MeanOfMeans) * RS.InvSigma;
    HatMean2 += M * M;
    HatVar += X.Var[F] * RS.InvSigma2;
  }
  if (Spec.Gamma != NoId) {
    GradState Gg = G;
    Gg.Coherent = 0;
    Gg.Varying = N_ * HatMean2 / D * G.Coherent + HatVar / D * G.Varying;
    Gg.Sigma2 += 0.05 * 0.05;
    Gg.OnesFree = 0;
    Gg.ZeroRowSum = false;
    Gg.Lip = G.Lip * std::sqrt(double(D));
    A.addGrad(Spec.Gamma, Gg);
  }
  if (Spec.Beta != NoId)
    A.addGrad(Spec.Beta, A.reduceBroadcast(G, Out, Spec.Beta));
  return true;
}

bool analysis::backwardNormalization(Analyzer &A, NodeId Id, const Node &N) {
  ValueId Sum = N.Outputs.size() > 3 ? N.Outputs[3] : NoId;
  return backwardSpec(A, Id, specOf(N), N.Outputs[0], Sum);
}

static NormSpec specOf(const NormInfo &Norm) {
  NormSpec S;
  S.Rms = Norm.Kind == NormKind::RMSNorm;
  S.X = Norm.Input;
  S.Gamma = Norm.Gamma;
  S.Beta = Norm.Beta;
  S.Eps = Norm.Epsilon;
  return S;
}

void analysis::forwardDecomposedNorm(Analyzer &A, NodeId Id, const NormInfo &Norm) {
  forwardSpec(A, Id, specOf(Norm), Norm.Output, NoId);
}

void analysis::backwardDecomposedNorm(Analyzer &A, NodeId Id, const NormInfo &Norm) {
  backwardSpec(A, Id, specOf(Norm), Norm.Output, NoId);
}
