//===- ZooAccuracyTest.cpp - predictions against PyTorch's gradients ------===//
//
// Issue 4's acceptance: over all ≥ 2-D parameters and sub-parameters of the
// zoo, est against PyTorch's float64 gradient norm (RMS over seeds, same
// loss and input distribution). Writes a per-parameter table to
// <build>/analysis-accuracy.tsv for inspection.
//
//===----------------------------------------------------------------------===//
#include "Zoo.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Loader/Loader.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>

using namespace gradlint;
using namespace gradlint::test;

namespace {
struct Row {
  std::string Model, Name;
  double Est, Lo, Hi, Measured;
};

double spearman(std::vector<double> A, std::vector<double> B) {
  auto Ranks = [](const std::vector<double> &V) {
    std::vector<size_t> Idx(V.size());
    for (size_t I = 0; I != V.size(); ++I)
      Idx[I] = I;
    std::sort(Idx.begin(), Idx.end(), [&](size_t X, size_t Y) { return V[X] < V[Y]; });
    std::vector<double> R(V.size());
    for (size_t I = 0; I != Idx.size(); ++I)
      R[Idx[I]] = I;
    return R;
  };
  std::vector<double> RA = Ranks(A), RB = Ranks(B);
  double N = A.size(), D = 0;
  for (size_t I = 0; I != A.size(); ++I)
    D += (RA[I] - RB[I]) * (RA[I] - RB[I]);
  return 1 - 6 * D / (N * (N * N - 1));
}

double median(std::vector<double> V) {
  std::sort(V.begin(), V.end());
  return V.empty() ? 0 : V[V.size() / 2];
}
} // namespace

namespace {
struct ZooScore {
  std::vector<Row> Rows;
  std::vector<std::string> SpearmanFailures, VanishFailures;
  unsigned SpanModels = 0;
  std::string LowestRho; ///< the checked model with the lowest Spearman
  double MinRho = 2;
};

/// Scores the static analysis, or with Calibrated the one fed with forward
/// statistics measured by the probe (check --calibrate).
ZooScore scoreZoo(bool Calibrated = false) {
  ZooScore Score;
  std::vector<ZooModel> Zoo = zooModels();
  std::vector<Row> &Rows = Score.Rows;
  std::vector<std::string> &SpearmanFailures = Score.SpearmanFailures,
                           &VanishFailures = Score.VanishFailures;
  unsigned &SpanModels = Score.SpanModels;
  for (const ZooModel &Z : Zoo) {
    INFO("model " << Z.Name);
    auto M = loadModel(Z.modelPath());
    REQUIRE(bool(M));
    AnalysisOptions Opts;
    if (Calibrated) {
      auto C = measureCalibration(**M, Z.dims(), nullptr);
      if (!C)
        FAIL(llvm::toString(C.takeError()));
      Opts.Calibrated = *C;
    }
    auto S = inferShapes(**M, Z.dims());
    REQUIRE(bool(S));
    auto R = analyze(**M, Opts);
    if (!R)
      FAIL(llvm::toString(R.takeError()));
    llvm::json::Value Torch = readJson(Z.Dir + "/torch.json");
    std::map<std::string, double> Measured;
    for (const llvm::json::Value &P : *Torch.getAsObject()->getObject("mean")->getArray("parameters")) {
      const llvm::json::Object *O = P.getAsObject();
      Measured[O->getString("name")->str()] = *O->getNumber("grad_norm_rms");
    }
    std::vector<double> Est, Meas;
    double MaxMeas = 0, MaxEst = 0;
    std::vector<const ParameterPrediction *> Used;
    for (const ParameterPrediction &P : R->Parameters) {
      if (P.Shape.size() < 2)
        continue;
      auto It = Measured.find(P.Name);
      if (It == Measured.end())
        continue;
      Rows.push_back({Z.Name, P.Name, P.GradNorm.Est, P.GradNorm.Lo, P.GradNorm.Hi, It->second});
      Est.push_back(P.GradNorm.Est);
      Meas.push_back(It->second);
      MaxMeas = std::max(MaxMeas, It->second);
      MaxEst = std::max(MaxEst, P.GradNorm.Est);
      Used.push_back(&P);
    }
    double MinMeas = MaxMeas;
    for (double X : Meas)
      if (X > 0)
        MinMeas = std::min(MinMeas, X);
    if (MaxMeas > 100 * MinMeas && Est.size() > 3) {
      ++SpanModels;
      double Rho = spearman(Est, Meas);
      if (Rho < Score.MinRho) {
        Score.MinRho = Rho;
        Score.LowestRho = Z.Name;
      }
      if (Rho < 0.9)
        SpearmanFailures.push_back(Z.Name + " rho=" + std::to_string(Rho));
    }
    for (size_t I = 0; I != Est.size(); ++I)
      if (Meas[I] < 1e-6 * MaxMeas && Est[I] >= 1e-4 * MaxEst)
        VanishFailures.push_back(Z.Name + " " + Used[I]->Name);
  }
  return Score;
}
} // namespace

TEST_CASE("zoo: predicted gradient norms match PyTorch", "[zoo][analysis]") {
  ZooScore Score = scoreZoo();
  const std::vector<Row> &Rows = Score.Rows;
  std::vector<double> LogErr;
  unsigned Within2 = 0, Inside = 0;
  std::vector<double> Ratio;
  std::ofstream Out(std::string(GRADLINT_ZOO_DIR) + "/../analysis-accuracy.tsv");
  Out << "model\tparameter\test\tlo\thi\tmeasured\tlog10_err\n";
  for (const Row &R : Rows) {
    double E = std::fabs(std::log10(std::max(R.Est, 1e-300) / std::max(R.Measured, 1e-300)));
    LogErr.push_back(E);
    Within2 += E <= std::log10(2.0);
    Inside += R.Measured >= R.Lo && R.Measured <= R.Hi;
    Ratio.push_back(R.Lo > 0 ? R.Hi / R.Lo : 1e300);
    Out << R.Model << "\t" << R.Name << "\t" << R.Est << "\t" << R.Lo << "\t"
        << R.Hi << "\t" << R.Measured << "\t" << E << "\n";
  }
  double N = Rows.size();
  double Med = median(LogErr), MedRatio = median(Ratio);
  std::string Summary = "parameters " + std::to_string(Rows.size()) +
                        ", median |log10 err| " + std::to_string(Med) +
                        ", within 2x " + std::to_string(Within2 / N) +
                        ", inside [lo,hi] " + std::to_string(Inside / N) +
                        ", median hi/lo " + std::to_string(MedRatio) +
                        ", spearman-checked models " + std::to_string(Score.SpanModels);
  WARN(Summary);
  INFO(Summary);
  REQUIRE(Rows.size() > 500);
  CHECK(Med <= 0.15);
  CHECK(Within2 / N >= 0.90);
  CHECK(Inside / N >= 0.95);
  CHECK(MedRatio <= 10);
}

// Issue 4 also asks for est < 1e-4 of the largest where the measurement is
// below 1e-6 of it (vanishing), and per-model rank correlation >= 0.9 where
// the measured profile spans two decades.
TEST_CASE("zoo: vanishing gradients are predicted as vanishing", "[zoo][analysis]") {
  ZooScore Score = scoreZoo();
  std::string VF;
  for (auto &S : Score.VanishFailures) VF += S + "\n";
  INFO("vanishing misses:\n" << VF);
  CHECK(Score.VanishFailures.empty());
}

// The lowest is a pathological model whose measurement converges slowly (a
// sigmoid stack without norms at 3x init: 0.934 against 256 seeds, 0.88-0.90
// against 4 to 128; docs/analysis.md, "How many seeds the oracle needs").
TEST_CASE("zoo: rank correlation per model", "[zoo][analysis]") {
  ZooScore Score = scoreZoo();
  WARN("lowest Spearman " << Score.MinRho << " (" << Score.LowestRho << ") of "
                          << Score.SpanModels << " models");
  std::string SF;
  for (auto &S : Score.SpearmanFailures) SF += S + "\n";
  INFO("spearman failures:\n" << SF);
  CHECK(Score.SpearmanFailures.empty());
}

namespace {
struct Headline {
  double Median = 0, Within2 = 0, Inside = 0;
};
Headline headline(const ZooScore &Score) {
  Headline H;
  std::vector<double> LogErr;
  for (const Row &R : Score.Rows) {
    double E = std::fabs(std::log10(std::max(R.Est, 1e-300) / std::max(R.Measured, 1e-300)));
    LogErr.push_back(E);
    H.Within2 += E <= std::log10(2.0);
    H.Inside += R.Measured >= R.Lo && R.Measured <= R.Hi;
  }
  H.Median = median(LogErr);
  H.Within2 /= std::max<size_t>(1, LogErr.size());
  H.Inside /= std::max<size_t>(1, LogErr.size());
  return H;
}
} // namespace

// `check --calibrate`: the same acceptance lines with forward statistics
// measured by the probe (its own input draws) in place of the static
// summaries. It must meet the acceptance lines and miss no vanishing
// gradient the static analysis catches. It is not asked to beat the static
// analysis line by line: the static rules also model each position's
// variance and gradient share (causal first positions), which the measured
// per-feature summaries do not carry; the comparison is printed.
TEST_CASE("zoo: calibrated predictions match PyTorch",
          "[zoo][analysis][calibrate]") {
  ZooScore Static = scoreZoo(false), Cal = scoreZoo(true);
  Headline S = headline(Static), C = headline(Cal);
  std::ofstream Out(std::string(GRADLINT_ZOO_DIR) + "/../analysis-accuracy-calibrated.tsv");
  Out << "model\tparameter\test\tlo\thi\tmeasured\n";
  for (const Row &R : Cal.Rows)
    Out << R.Model << "\t" << R.Name << "\t" << R.Est << "\t" << R.Lo << "\t"
        << R.Hi << "\t" << R.Measured << "\n";
  std::string SF, VF;
  for (auto &X : Cal.SpearmanFailures) SF += " " + X;
  for (auto &X : Cal.VanishFailures) VF += " " + X;
  WARN("calibrated: median |log10 err| " << C.Median << " (static " << S.Median
       << "), within 2x " << C.Within2 << " (" << S.Within2 << "), inside [lo,hi] "
       << C.Inside << " (" << S.Inside << "), Spearman < 0.9 on "
       << Cal.SpearmanFailures.size() << " of " << Cal.SpanModels << " models ("
       << Static.SpearmanFailures.size() << " static):" << SF << "; vanishing misses "
       << Cal.VanishFailures.size() << " (" << Static.VanishFailures.size() << ")");
  REQUIRE(Cal.Rows.size() == Static.Rows.size());
  CHECK(C.Median <= 0.15);
  CHECK(C.Within2 >= 0.90);
  CHECK(C.Inside >= 0.95);
  CHECK(C.Median <= S.Median + 0.01);
  CHECK(Cal.VanishFailures.size() <= Static.VanishFailures.size());
}
