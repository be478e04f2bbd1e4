//===- Softmax.cpp - softmax and log-softmax over the last axis -----------===//
//
// Output moments depend on the distribution, not only the moments, of the
// logits: a seeded Monte Carlo over the row's keys (per query row under a
// mask) gives E[p], Σp², Σp³ and max p. Backward, per row,
//   ‖J_i‖_F² = Σp² − 2Σp³ + (Σp²)²      (J = diag(p) − ppᵀ)
// and an isotropic g_P of per-entry variance σ² gives ‖g_S,i‖² = σ²‖J_i‖_F².
//
//===----------------------------------------------------------------------===//
#include "../Analyzer.h"

using namespace gradlint;
using namespace gradlint::analysis;

namespace {
/// The query rows to simulate: all when few, else an even subsample.
std::vector<int64_t> sampleRows(int64_t Tq) {
  std::vector<int64_t> R;
  const int64_t Max = 48;
  if (Tq <= Max) {
    for (int64_t I = 0; I < Tq; ++I)
      R.push_back(I);
    return R;
  }
  for (int64_t K = 0; K < Max; ++K)
    R.push_back(K * (Tq - 1) / (Max - 1));
  return R;
}
} // namespace

bool analysis::forwardSoftmax(Analyzer &A, NodeId Id, const Node &N) {
  ValueId In = N.input(0), Out = N.Outputs[0];
  const FwdState *X = A.fwd(In);
  if (!X)
    return false;
  const Value &V = A.val(In);
  int64_t Axis = N.getInt("axis", N.Opset >= 13 ? -1 : 1);
  if (Axis < 0)
    Axis += V.Shape.size();
  if (Axis != int64_t(V.Shape.size()) - 1)
    return false; // only the last axis (what attention and LM heads use)
  int64_t Keys = X->S.Features;
  int64_t Tq = V.Shape.size() >= 2 ? V.Shape[V.Shape.size() - 2] : 1;
  const MaskInfo *Mask = X->Mask.get();
  if (Mask && int64_t(Mask->Valid.size()) != Tq)
    Mask = nullptr;
  // A causal mask the constant folder could not evaluate (too large), known
  // from the attention pattern: row i sees the keys up to i (+ any cache).
  MaskInfo Causal;
  if (!Mask) {
    auto It = A.SoftmaxMask.find(Id);
    if (It != A.SoftmaxMask.end() && It->second == MaskKind::Causal) {
      Causal.Causal = true;
      for (int64_t I = 0; I < Tq; ++I)
        Causal.Valid.push_back(std::min(Keys, I + 1 + std::max<int64_t>(0, Keys - Tq)));
      Mask = &Causal;
    }
  }

  SoftmaxRows Rows;
  Rows.Keys = Keys;
  Rows.SumP2.assign(Tq, 0);
  Rows.SumP3.assign(Tq, 0);
  Rows.MaxP.assign(Tq, 0);
  Rows.JF.assign(Tq, 0);
  Rows.ColSum.assign(Keys, 0);
  std::vector<double> MeanP(Keys, 0), M2P(Keys, 0);
  if (const Calibration::SoftmaxRows *C = A.calibratedSoftmax(Out);
      C && int64_t(C->SumP2.size()) == Tq && int64_t(C->JF.size()) == Tq &&
      int64_t(C->ColSum.size()) == Keys) {
    // Measured rows (--calibrate): no Gaussian-logit assumption. The
    // output's moments come from its own measured summary.
    Rows.SumP2 = C->SumP2;
    Rows.SumP3 = C->SumP3;
    Rows.MaxP = C->MaxP;
    Rows.ColSum = C->ColSum;
    Rows.JF = C->JF;
    // float32 rows that saturated to one-hot measure J = 0; the exact value
    // is the near-tie term, from the measured logits.
    std::map<int64_t, double> TieByValid;
    for (int64_t I = 0; I < Tq; ++I) {
      int64_t Valid = std::min(Keys, Mask ? std::max<int64_t>(1, Mask->Valid[I]) : Keys);
      if (Rows.MaxP[I] <= 0.8)
        continue; // not saturated: the measurement stands
      auto [It, New] = TieByValid.try_emplace(Valid, 0.0);
      if (New)
        It->second = softmaxTieDensity(X->S.Mean.data(), X->S.Var.data(), Valid);
      if (It->second > 0 && 5 * It->second < 0.2)
        Rows.JF[I] = std::max(Rows.JF[I], typicalTieJacobian(It->second, X->S.Rows));
    }
    MeanP = C->ColSum;
    ++A.CalibratedSoftmax;
  } else {
    Rng R = A.rng(0x50f7 + Id);
    std::vector<int64_t> Sampled = sampleRows(Tq);
    std::vector<SoftmaxStats> Stats;
    for (int64_t I : Sampled) {
      int64_t Valid = Mask ? std::max<int64_t>(1, Mask->Valid[I]) : Keys;
      // Masks keep a prefix of the keys (causal) or, for other patterns, a
      // count; the moments of the kept keys are taken from the first ones.
      Stats.push_back(softmaxMonteCarlo(X->S.Mean.data(), X->S.Var.data(),
                                        std::min(Valid, Keys), 256, R));
    }
    // Fill every row from the nearest simulated one.
    size_t K = 0;
    for (int64_t I = 0; I < Tq; ++I) {
      while (K + 1 < Sampled.size() && std::abs(Sampled[K + 1] - I) <= std::abs(Sampled[K] - I))
        ++K;
      const SoftmaxStats &S = Stats[K];
      Rows.SumP2[I] = S.SumP2;
      Rows.SumP3[I] = S.SumP3;
      Rows.MaxP[I] = S.MaxP;
      Rows.JF[I] = S.FromTies ? typicalTieJacobian(S.Tie, X->S.Rows) : S.JF;
      Rows.Nearest.push_back(static_cast<int32_t>(K));
      int64_t Valid = Mask ? std::max<int64_t>(1, Mask->Valid[I]) : Keys;
      Rows.Valid.push_back(Valid);
      for (int64_t J = 0; J < std::min(Valid, Keys); ++J) {
        double P = SoftmaxRows::resample(S.MeanP, J, std::min(Valid, Keys));
        Rows.ColSum[J] += P;
        Rows.SumMeanP2 += P * P;
        MeanP[J] += P;
        M2P[J] += S.SumP2 / Valid;
      }
    }
    for (SoftmaxStats &S : Stats)
      Rows.Simulated.push_back(std::move(S.MeanP));
  }
  ValueSummary S = A.blank(Out);
  NodeFacts &F = A.Facts[Id];
  double SumP2 = 0, MaxP = 0;
  for (int64_t I = 0; I < Tq; ++I) {
    SumP2 += Rows.SumP2[I];
    MaxP += Rows.MaxP[I];
  }
  F.SoftmaxSumP2 = SumP2 / Tq;
  F.SoftmaxMaxProb = MaxP / Tq;
  F.SoftmaxLogitStd = std::sqrt(Analyzer::pooledVar(X->S));
  if (N.Kind == OpKind::LogSoftmax) {
    // log p = s − logsumexp(s): the shift is nearly shared by the row.
    double Lse = std::log(double(Keys)) + 0.5 * Analyzer::pooledVar(X->S) +
                 Analyzer::pooledMean(X->S);
    for (int64_t J = 0; J < Keys; ++J) {
      S.Mean[J] = X->S.Mean[J] - Lse;
      S.Var[J] = X->S.Var[J];
    }
    S.Min = -Infinity;
    S.Max = 0;
  } else {
    for (int64_t J = 0; J < Keys; ++J) {
      S.Mean[J] = MeanP[J] / Tq;
      S.Var[J] = std::max(0.0, M2P[J] / Tq - S.Mean[J] * S.Mean[J]);
    }
    S.Min = 0;
    S.Max = 1;
  }
  A.Softmax[Id] = std::move(Rows);
  A.setFwd(Out, S);
  return true;
}

bool analysis::backwardSoftmax(Analyzer &A, NodeId Id, const Node &N) {
  auto It = A.Softmax.find(Id);
  if (It == A.Softmax.end())
    return false;
  const SoftmaxRows &Rows = It->second;
  const GradState &G = A.grad(N.Outputs[0]);
  GradState C = G;
  if (N.Kind == OpKind::LogSoftmax) {
    // J = I − 1pᵀ: removes the row's p-weighted mean; keeps nearly all energy.
    double P2 = 0;
    for (double S : Rows.SumP2)
      P2 += S;
    P2 /= std::max<size_t>(1, Rows.SumP2.size());
    C = Analyzer::scaled(G, std::max(0.0, 1.0 - 2.0 / Rows.Keys + P2 / Rows.Keys), 0.05, 2.0);
    C.ZeroRowSum = false;
    A.addGrad(N.input(0), C);
    return true;
  }
  // Mean over rows of ‖J_i‖_F² / Keys: the factor for an isotropic g_P.
  // Rows weighted by their share of g_P's energy (G's profile): a causal
  // first row, one key and no Jacobian, may hold much of it.
  int64_t Tq = Rows.JF.size();
  bool Profiled = !G.Pos.empty() && G.PosT == Tq;
  double JF = 0;
  std::vector<double> RowE(Tq);
  for (int64_t I = 0; I < Tq; ++I) {
    double W = Profiled ? G.pos(PositionMeans::rowOf(I, Tq)) : 1.0;
    RowE[I] = W * Rows.JF[I];
    JF += RowE[I];
  }
  JF /= std::max<int64_t>(1, Tq);
  double Factor = JF / std::max<int64_t>(1, Rows.Keys);
  // Saturated rows are where Gaussian logits fail most: widen the interval
  // with the mean max-probability.
  double MaxP = 0;
  for (double M : Rows.MaxP)
    MaxP += M;
  MaxP /= std::max<size_t>(1, Rows.MaxP.size());
  double Tau = std::hypot(0.15, 2.0 * std::max(0.0, MaxP - 0.3));
  C = Analyzer::scaled(G, 1.0, Tau, 0.5);
  // No systematic mean over query rows, but rows are independent draws: the
  // mean of N of them still carries 1/N of the energy (a bias after the
  // query projection sums N such rows).
  double E = Factor * G.energy();
  double RowCount = A.fwd(N.input(0)) ? std::max<int64_t>(1, A.fwd(N.input(0))->S.Rows) : 1;
  C.Coherent = E / RowCount;
  C.Varying = E - C.Coherent;
  C.ZeroRowSum = true; // rows of J g sum to zero: J·1 = 0
  C.setPosAt(RowE);
  A.addGrad(N.input(0), C);
  return true;
}
