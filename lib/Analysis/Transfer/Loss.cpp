//===- Loss.cpp - the reference loss's gradient (DESIGN §3) ---------------===//
//
// ce:          g_n = (p_n − e_{t_n}) / N, uniformly random targets:
//              ‖g‖² = (1 + E Σp² − 2/V) / N,  Coherent = N‖ḡ‖² with
//              ḡ = (p̄ − ē)/N and E‖ē − 1/V‖² = (1 − 1/V)/N.
// projection:  g = r/N, r standard normal: ‖g‖² = D/N, Coherent = D/N².
//
//===----------------------------------------------------------------------===//
#include "../Analyzer.h"

using namespace gradlint;
using namespace gradlint::analysis;

void analysis::seedLoss(Analyzer &A) {
  const ReferenceSetup &S = A.Setup;
  ValueId Out = S.Output;
  const FwdState *Y = A.fwd(Out);
  GradState G;
  G.Reached = true;
  G.Sigma2 = 0.0;
  double N = std::max<int64_t>(1, S.Rows);
  if (S.Loss == LossKind::Projection) {
    double D = std::max<int64_t>(1, S.Vocab);
    G.Coherent = D / (N * N);
    G.Varying = D / N - G.Coherent;
    G.Lip = std::sqrt(D / N) * 3; // ‖r‖ stays within 3× its mean norm
    A.addGrad(Out, G);
    return;
  }
  double V = std::max<int64_t>(2, S.Vocab);
  double SumP2 = 1.0 / V, Coherent2 = 0;
  if (Y) {
    Rng R = A.rng(0xce);
    SoftmaxStats St = softmaxMonteCarlo(Y->S.Mean.data(), Y->S.Var.data(),
                                        Y->S.Features, 64, R);
    SumP2 = St.SumP2;
    for (double P : St.MeanP)
      Coherent2 += (P - 1.0 / V) * (P - 1.0 / V);
  }
  double Total = (1 + SumP2 - 2 / V) / N;
  G.Coherent = std::min(Total, (Coherent2 + (1 - 1 / V) / N) / N);
  G.Varying = Total - G.Coherent;
  G.Lip = std::sqrt(2 / N);
  G.Sigma2 = 0.02 * 0.02;
  A.addGrad(Out, G);
}
