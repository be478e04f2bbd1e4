//===- Numerics.cpp - quadrature, power iteration, softmax Monte Carlo ----===//
#include "Analyzer.h"
#include <algorithm>
#include <cmath>

using namespace gradlint;
using namespace gradlint::analysis;

const Quadrature &Quadrature::get() {
  // Probabilists' Gauss–Hermite rule with 24 nodes, computed once by the
  // Golub–Welsch recurrence + Newton refinement on He_n.
  static const Quadrature Q = [] {
    const int N = 24;
    Quadrature R;
    std::vector<double> Roots;
    // Newton iteration on the physicists' polynomial H_n with the classic
    // initial guesses; then convert x -> sqrt(2) x, w -> w / sqrt(pi).
    double Z = 0;
    for (int I = 0; I < (N + 1) / 2; ++I) {
      if (I == 0)
        Z = std::sqrt(2.0 * N + 1) - 1.85575 * std::pow(2.0 * N + 1, -1.0 / 6);
      else if (I == 1)
        Z -= 1.14 * std::pow(double(N), 0.426) / Z;
      else if (I == 2)
        Z = 1.86 * Z - 0.86 * Roots[0];
      else if (I == 3)
        Z = 1.91 * Z - 0.91 * Roots[1];
      else
        Z = 2.0 * Z - Roots[I - 2];
      double PP = 0;
      for (int It = 0; It < 100; ++It) {
        double P1 = std::pow(M_PI, -0.25), P2 = 0;
        for (int J = 1; J <= N; ++J) {
          double P3 = P2;
          P2 = P1;
          P1 = Z * std::sqrt(2.0 / J) * P2 - std::sqrt(double(J - 1) / J) * P3;
        }
        PP = std::sqrt(2.0 * N) * P2;
        double Z1 = Z;
        Z = Z1 - P1 / PP;
        if (std::fabs(Z - Z1) < 1e-15)
          break;
      }
      Roots.push_back(Z);
      double W = 2.0 / (PP * PP);
      R.Z.push_back(Z * std::sqrt(2.0));
      R.W.push_back(W / std::sqrt(M_PI));
      if (2 * I + 1 != N) {
        R.Z.push_back(-Z * std::sqrt(2.0));
        R.W.push_back(W / std::sqrt(M_PI));
      }
    }
    return R;
  }();
  return Q;
}

std::shared_ptr<const Rule> Rule::hermite() {
  static const std::shared_ptr<const Rule> R = [] {
    auto H = std::make_shared<Rule>();
    H->NQ = Quadrature::get().Z.size();
    H->Z = Quadrature::get().Z;
    H->W = Quadrature::get().W;
    return H;
  }();
  return R;
}

namespace {
/// Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_n).
struct Legendre {
  std::vector<double> X, W;
  explicit Legendre(int N) {
    for (int I = 0; I < N; ++I) {
      double Xi = std::cos(M_PI * (I + 0.75) / (N + 0.5)), Dp = 1;
      for (int It = 0; It < 100; ++It) {
        double P0 = 1, P1 = Xi;
        for (int K = 2; K <= N; ++K) {
          double P2 = ((2 * K - 1) * Xi * P1 - (K - 1) * P0) / K;
          P0 = P1;
          P1 = P2;
        }
        Dp = N * (Xi * P1 - P0) / (Xi * Xi - 1);
        double Step = P1 / Dp;
        Xi -= Step;
        if (std::fabs(Step) < 1e-15)
          break;
      }
      X.push_back(Xi);
      W.push_back(2 / ((1 - Xi * Xi) * Dp * Dp));
    }
  }
};
} // namespace

std::shared_ptr<const Rule> Rule::forGaussians(const std::vector<double> &Mean,
                                               const std::vector<double> &Var) {
  // Tails: 16 nodes each on [−8, a] and [b, 8]; the window [a, b] (|x| ≤
  // Window in the feature's own units): 10 panels of 5 nodes, fine enough
  // for tanh′² (half width 0.66).
  constexpr int TailNodes = 16, Panels = 10, PanelNodes = 5;
  constexpr double ZMax = 8;
  auto Wide = [](double Mu, double Var) {
    double Sd = std::sqrt(std::max(Var, 0.0));
    return Sd > WideSd && std::fabs(Mu) < Window + ZMax * Sd;
  };
  size_t F = Mean.size();
  bool AnyWide = false;
  for (size_t Fi = 0; Fi < F && !AnyWide; ++Fi)
    AnyWide = Wide(Mean[Fi], Var[Fi]);
  if (!AnyWide)
    return hermite();
  static const Legendre Tail(TailNodes), Panel(PanelNodes);
  const Quadrature &GH = Quadrature::get();
  auto R = std::make_shared<Rule>();
  R->NQ = 2 * TailNodes + Panels * PanelNodes;
  R->PerFeature = true;
  R->Z.assign(F * R->NQ, 0.0);
  R->W.assign(F * R->NQ, 0.0);
  for (size_t Fi = 0; Fi < F; ++Fi) {
    double *Z = &R->Z[Fi * R->NQ], *W = &R->W[Fi * R->NQ];
    if (!Wide(Mean[Fi], Var[Fi])) { // Hermite, the other nodes weigh nothing
      std::copy(GH.Z.begin(), GH.Z.end(), Z);
      std::copy(GH.W.begin(), GH.W.end(), W);
      continue;
    }
    double Sd = std::sqrt(Var[Fi]);
    double A = std::clamp((-Window - Mean[Fi]) / Sd, -ZMax, ZMax);
    double B = std::clamp((Window - Mean[Fi]) / Sd, -ZMax, ZMax);
    size_t Q = 0;
    auto Piece = [&](double Lo, double Hi, const Legendre &L) {
      double Half = 0.5 * (Hi - Lo), Mid = 0.5 * (Hi + Lo);
      for (size_t I = 0; I < L.X.size(); ++I, ++Q) {
        Z[Q] = Mid + Half * L.X[I];
        W[Q] = Half * L.W[I] * std::exp(-0.5 * Z[Q] * Z[Q]) / std::sqrt(2 * M_PI);
      }
    };
    Piece(-ZMax, A, Tail);
    for (int P = 0; P < Panels; ++P)
      Piece(A + (B - A) * P / Panels, A + (B - A) * (P + 1) / Panels, Panel);
    Piece(B, ZMax, Tail);
    double Sum = 0;
    for (size_t I = 0; I < R->NQ; ++I)
      Sum += W[I];
    for (size_t I = 0; I < R->NQ; ++I)
      W[I] /= Sum;
  }
  return R;
}

double analysis::spectralNorm(const std::vector<float> &W, int64_t Rows,
                              int64_t Cols, Rng &R) {
  if (Rows == 0 || Cols == 0)
    return 0;
  // Power iteration on WᵀW, one pass over W per step (memory-bound: for
  // each row r, s = r·v and v' += s·r). Stops when sigma moves by < 1e-4.
  std::vector<float> V(Cols), Next(Cols);
  double Norm = 0;
  for (float &X : V) {
    X = static_cast<float>(R.normal());
    Norm += double(X) * X;
  }
  for (float &X : V)
    X = static_cast<float>(X / std::sqrt(Norm));
  double Sigma = 0;
  for (int It = 0; It < 40; ++It) {
    std::fill(Next.begin(), Next.end(), 0.0f);
    for (int64_t I = 0; I < Rows; ++I) {
      const float *Row = &W[I * Cols];
      // Eight partial sums let the compiler vectorize the dot product.
      float Acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t J = 0;
      for (; J + 8 <= Cols; J += 8)
        for (int L = 0; L < 8; ++L)
          Acc[L] += Row[J + L] * V[J + L];
      float S = 0;
      for (; J < Cols; ++J)
        S += Row[J] * V[J];
      for (float A : Acc)
        S += A;
      for (int64_t K = 0; K < Cols; ++K)
        Next[K] += S * Row[K];
    }
    double N2 = 0;
    for (float X : Next)
      N2 += double(X) * X;
    N2 = std::sqrt(N2); // ‖WᵀW v‖ -> sigma²
    if (N2 == 0)
      return 0;
    double Prev = Sigma;
    Sigma = std::sqrt(N2);
    for (int64_t K = 0; K < Cols; ++K)
      V[K] = static_cast<float>(Next[K] / N2);
    if (It > 3 && std::fabs(Sigma - Prev) <= 1e-3 * Sigma)
      break;
  }
  return Sigma;
}

SoftmaxStats analysis::softmaxMonteCarlo(const double *Mean, const double *Var,
                                         int64_t Keys, unsigned Samples,
                                         Rng &R) {
  SoftmaxStats S;
  S.MeanP.assign(Keys, 0.0);
  if (Keys <= 0)
    return S;
  std::vector<double> L(Keys);
  for (unsigned It = 0; It < Samples; ++It) {
    double Max = -Infinity;
    for (int64_t J = 0; J < Keys; ++J) {
      L[J] = Mean[J] + std::sqrt(std::max(0.0, Var[J])) * R.normal();
      Max = std::max(Max, L[J]);
    }
    double Sum = 0;
    for (double &X : L) {
      X = std::exp(X - Max);
      Sum += X;
    }
    double P2 = 0, P3 = 0, PMax = 0;
    for (int64_t J = 0; J < Keys; ++J) {
      double P = L[J] / Sum;
      P2 += P * P;
      P3 += P * P * P;
      PMax = std::max(PMax, P);
      S.MeanP[J] += P;
    }
    S.SumP2 += P2;
    S.SumP3 += P3;
    S.MaxP += PMax;
    S.JF += P2 - 2 * P3 + P2 * P2;
  }
  S.SumP2 /= Samples;
  S.SumP3 /= Samples;
  S.MaxP /= Samples;
  S.JF /= Samples;
  for (double &P : S.MeanP)
    P /= Samples;
  // Saturated rows: gaps below ~5 between the two largest logits, where all
  // of J lives, are too rare for the samples; their density is not.
  // Only saturated rows can be in the tie regime (5g < 0.2 means four rows
  // in five have a top-two gap above 5, so max p near 1).
  double Tie = S.MaxP > 0.8 ? softmaxTieDensity(Mean, Var, Keys) : 0;
  S.Tie = Tie;
  if (Tie > 0 && 5 * Tie < 0.2) {
    S.JF = Tie / 3;
    S.FromTies = true;
  }
  return S;
}

double analysis::mehlerCorrelation(const double *Val, const double *Z,
                                   const double *W, size_t NQ, double Rho) {
  if (Rho <= 0)
    return 0;
  if (Rho >= 1)
    return 1;
  const int Terms = 12;
  double Num = 0, Den = 0, Fact = 1, RhoN = 1;
  std::vector<double> Prev(NQ, 1.0), Cur(Z, Z + NQ); // He_0 = 1, He_1 = z
  for (int N = 1; N <= Terms; ++N) {
    Fact *= N;
    RhoN *= Rho;
    double C = 0;
    for (size_t I = 0; I < NQ; ++I)
      C += W[I] * Val[I] * Cur[I];
    Num += RhoN * C * C / Fact;
    Den += C * C / Fact;
    for (size_t I = 0; I < NQ; ++I) { // He_{n+1} = z He_n − n He_{n−1}
      double Next = Z[I] * Cur[I] - N * Prev[I];
      Prev[I] = Cur[I];
      Cur[I] = Next;
    }
  }
  return Den > 0 ? std::clamp(Num / Den, 0.0, 1.0) : 0;
}

double analysis::typicalTieJacobian(double Tie, int64_t Rows) {
  return Tie / 3 * std::min(1.0, double(std::max<int64_t>(1, Rows)) * Tie);
}

double analysis::softmaxTieDensity(const double *Mean, const double *Var,
                                   int64_t Keys) {
  if (Keys < 2)
    return 0;
  double Lo = Infinity, Hi = -Infinity;
  for (int64_t J = 0; J < Keys; ++J) {
    if (!(Var[J] > 0))
      return 0;
    double Sd = std::sqrt(Var[J]);
    Lo = std::min(Lo, Mean[J] - 4 * Sd);
    Hi = std::max(Hi, Mean[J] + 9 * Sd);
  }
  // g = ∫ Σ_{a≠b} φ_a(x) φ_b(x) Π_{c≠a,b} Φ_c(x) dx
  //   = ∫ [(Σ_a r_a)² − Σ_a r_a²] Π_c Φ_c dx,  r_a = φ_a / Φ_a,
  // on a grid from below the typical maximum to above every key's tail.
  const int Nodes = 600;
  double H = (Hi - Lo) / Nodes, G = 0;
  for (int I = 0; I <= Nodes; ++I) {
    double X = Lo + I * H, LogProd = 0, SumR = 0, SumR2 = 0;
    for (int64_t J = 0; J < Keys; ++J) {
      double Sd = std::sqrt(Var[J]), Z = (X - Mean[J]) / Sd;
      double LogCdf = std::log(0.5 * std::erfc(-Z / std::sqrt(2.0)));
      double LogPdf = -0.5 * Z * Z - 0.5 * std::log(2 * M_PI) - std::log(Sd);
      LogProd += LogCdf;
      double R = std::exp(LogPdf - LogCdf);
      SumR += R;
      SumR2 += R * R;
    }
    double F = (SumR * SumR - SumR2) * std::exp(LogProd);
    G += (I == 0 || I == Nodes ? 0.5 : 1.0) * F * H;
  }
  return G;
}
