//===- Validate.cpp - `gradlint validate`: predictions against the probe --===//
//
// Runs the analysis and the probe (several seeds) on the same model, loss
// and input distribution, and reports how well they agree: per parameter
// est, [lo, hi] and measured (RMS over seeds); the median |log10(est /
// measured)|, the share inside [lo, hi], Spearman's rank correlation; and
// for each finding whether the measurement confirms the prediction behind it.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Driver/Driver.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Rules/Engine.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include <algorithm>
#include <cmath>
#include <map>

using namespace gradlint;

namespace {

struct Comparison {
  std::string Name, Role;
  int Block = -1;
  Bound Predicted;
  double Measured = 0;
  bool inside() const {
    return Measured >= Predicted.Lo && Measured <= Predicted.Hi;
  }
  double logError() const {
    if (Predicted.Est <= 0 || Measured <= 0)
      return Predicted.Est == Measured ? 0 : Infinity;
    return std::fabs(std::log10(Predicted.Est / Measured));
  }
};

/// Ranks with ties averaged.
std::vector<double> ranks(const std::vector<double> &V) {
  std::vector<size_t> Idx(V.size());
  for (size_t I = 0; I != V.size(); ++I)
    Idx[I] = I;
  std::stable_sort(Idx.begin(), Idx.end(), [&](size_t A, size_t B) { return V[A] < V[B]; });
  std::vector<double> R(V.size());
  for (size_t I = 0; I != Idx.size();) {
    size_t J = I;
    while (J + 1 < Idx.size() && V[Idx[J + 1]] == V[Idx[I]])
      ++J;
    for (size_t K = I; K <= J; ++K)
      R[Idx[K]] = (I + J) / 2.0;
    I = J + 1;
  }
  return R;
}

double spearman(const std::vector<double> &A, const std::vector<double> &B) {
  if (A.size() < 3)
    return 1;
  std::vector<double> RA = ranks(A), RB = ranks(B);
  double MA = 0, MB = 0;
  for (size_t I = 0; I != A.size(); ++I) {
    MA += RA[I];
    MB += RB[I];
  }
  MA /= A.size();
  MB /= B.size();
  double SAB = 0, SAA = 0, SBB = 0;
  for (size_t I = 0; I != A.size(); ++I) {
    SAB += (RA[I] - MA) * (RB[I] - MB);
    SAA += (RA[I] - MA) * (RA[I] - MA);
    SBB += (RB[I] - MB) * (RB[I] - MB);
  }
  return SAA > 0 && SBB > 0 ? SAB / std::sqrt(SAA * SBB) : 1;
}

} // namespace

llvm::Expected<int> gradlint::runValidate(const ValidateOptions &Opts) {
  if (Opts.Format != "text" && Opts.Format != "json")
    return makeError("--format must be text or json for validate, got '" +
                     Opts.Format + "'");
  // Heavy-tailed gradients (saturated softmax rows that tie now and then)
  // need hundreds of seeds before their RMS settles (docs/analysis.md).
  if (Opts.Seeds == 0 || Opts.Seeds > 4096)
    return makeError("--seeds must be between 1 and 4096");
  DimBindings Dims;
  for (const std::string &D : Opts.Dims)
    if (llvm::Error E = parseDimBinding(D, Dims))
      return E;
  LossKind Loss = LossKind::Projection;
  if (!Opts.Loss.empty()) {
    auto L = parseLossName(Opts.Loss);
    if (!L)
      return L.takeError();
    Loss = *L;
  }
  AnalysisOptions AOpts;
  AOpts.ForcedLoss = Opts.Loss.empty() ? nullptr : &Loss;
  AOpts.Seed = Opts.Seed;
  // --calibrate draws its own inputs, apart from the probe's seeds.
  auto Analysed = analyseModel(Opts.ModelPath, Dims, AOpts, Opts.Calibrate);
  if (!Analysed)
    return Analysed.takeError();
  Model &Mod = *Analysed->M;
  const ModelStructure &Structure = Analysed->Structure;
  const AnalysisResult &A = Analysed->A;
  RuleRunOptions ROpts;
  auto All = selectRules({}, {}, "rules");
  if (!All)
    return All.takeError();
  ROpts.Enabled = *All;
  RuleResults Rules = runRules(Mod, A, Structure, ROpts);

  // Measured: RMS over seeds of each parameter's gradient norm.
  std::map<std::string, double> Energy;
  double Loss0 = 0;
  std::string LossKindName;
  for (unsigned S = 0; S != Opts.Seeds; ++S) {
    ProbeOptions P;
    P.Device = Opts.Device;
    P.Seed = Opts.Seed + S;
    P.Dims = Dims;
    if (!Opts.Loss.empty())
      P.Loss = Loss;
    auto R = runProbe(Mod, P);
    if (!R)
      return R.takeError();
    for (const ParamGrad &G : R->Parameters)
      Energy[G.Name] += G.GradNorm * G.GradNorm / Opts.Seeds;
    Loss0 += R->Loss0 / Opts.Seeds;
    LossKindName = R->LossKind;
  }
  // The probe re-infers shapes with its inputs; restore the analysis' view.
  if (auto Again = inferShapes(Mod, Dims); !Again)
    return Again.takeError();

  std::vector<Comparison> Rows;
  for (const ParameterPrediction &P : A.Parameters) {
    auto It = Energy.find(P.Name);
    if (It == Energy.end())
      continue;
    Comparison C;
    C.Name = P.Name;
    C.Predicted = P.GradNorm;
    C.Measured = std::sqrt(It->second);
    ModelStructure::Role R = Structure.roleOf(Mod, P.Name);
    C.Block = R.Block;
    C.Role = R.Kind;
    Rows.push_back(C);
  }
  std::vector<double> Err, Est, Meas;
  unsigned Inside = 0, Within2 = 0;
  for (const Comparison &C : Rows) {
    Err.push_back(C.logError());
    Est.push_back(C.Predicted.Est);
    Meas.push_back(C.Measured);
    Inside += C.inside();
    Within2 += C.logError() <= std::log10(2.0);
  }
  std::vector<double> Sorted = Err;
  std::sort(Sorted.begin(), Sorted.end());
  double Median = Sorted.empty() ? 0 : Sorted[Sorted.size() / 2];
  double Rho = spearman(Est, Meas);
  double N = std::max<size_t>(1, Rows.size());

  // A finding about a parameter is confirmed when the measurement falls in
  // the prediction interval that raised it; model-wide findings (structure,
  // configuration) are not something one probe step can measure.
  std::map<std::string, const Comparison *> ByName;
  for (const Comparison &C : Rows)
    ByName[C.Name] = &C;
  struct Verdict {
    const Finding *F;
    std::string State;
  };
  std::vector<Verdict> Verdicts;
  for (const Finding &F : Rules.Findings) {
    auto It = ByName.find(F.Parameter);
    std::string State = It == ByName.end()        ? "not measured"
                        : It->second->inside()    ? "confirmed"
                                                  : "contradicted";
    Verdicts.push_back({&F, State});
  }

  auto OS = openOutput(Opts.OutputPath);
  if (!OS)
    return OS.takeError();
  if (Opts.Format == "json") {
    llvm::json::Array Params, Finds;
    for (const Comparison &C : Rows)
      Params.push_back(llvm::json::Object{
          {"name", C.Name},
          {"block", C.Block},
          {"role", C.Role},
          {"grad_norm", llvm::json::Object{{"lo", C.Predicted.Lo},
                                           {"est", C.Predicted.Est},
                                           {"hi", std::isfinite(C.Predicted.Hi)
                                                      ? llvm::json::Value(C.Predicted.Hi)
                                                      : llvm::json::Value(nullptr)}}},
          {"measured", C.Measured},
          {"inside", C.inside()}});
    for (const Verdict &V : Verdicts)
      Finds.push_back(llvm::json::Object{{"rule", V.F->Code},
                                         {"parameter", V.F->Parameter},
                                         {"message", V.F->Message},
                                         {"verdict", V.State}});
    llvm::json::Object Root{
        {"schema", "gradlint.validate/1"},
        {"model", llvm::json::Object{{"path", Opts.ModelPath}}},
        {"loss", llvm::json::Object{{"kind", LossKindName}, {"value", Loss0}}},
        {"seeds", Opts.Seeds},
        {"device", Opts.Device},
        {"calibrated", Opts.Calibrate},
        {"parameters", std::move(Params)},
        {"summary", llvm::json::Object{{"parameters", int64_t(Rows.size())},
                                       {"median_abs_log10_error", Median},
                                       {"within_2x", Within2 / N},
                                       {"inside_interval", Inside / N},
                                       {"spearman", Rho}}},
        {"findings", std::move(Finds)}};
    **OS << llvm::formatv("{0:2}", llvm::json::Value(std::move(Root))) << "\n";
    return ExitOk;
  }
  llvm::raw_ostream &Out = **OS;
  Out << "validate  " << Opts.ModelPath << " (" << Opts.Device << ", seeds "
      << Opts.Seed << ".." << Opts.Seed + Opts.Seeds - 1 << ", " << LossKindName
      << " loss " << llvm::format("%.5g", Loss0)
      << (Opts.Calibrate ? ", predictions calibrated" : "") << ")\n\n";
  size_t Width = 9;
  for (const Comparison &C : Rows)
    Width = std::max(Width, C.Name.size());
  std::string W = std::to_string(Width);
  std::string Head = "  {0,-" + W + "}  {1,5}  {2,-16}  {3,9}  {4,-21}  {5,9}  {6,6}\n";
  std::string Line = "  {0,-" + W + "}  {1,5}  {2,-16}  {3:e2}  {4,-21}  {5:e2}  {6:f2}{7}\n";
  Out << llvm::formatv(Head.c_str(), "parameter", "block", "role", "est", "[lo, hi]", "measured", "ratio");
  for (const Comparison &C : Rows) {
    std::string Interval = llvm::formatv("[{0:e2}, {1:e2}]", C.Predicted.Lo, C.Predicted.Hi).str();
    Out << llvm::formatv(Line.c_str(), C.Name, C.Block < 0 ? std::string("-") : std::to_string(C.Block),
                         C.Role, C.Predicted.Est, Interval, C.Measured,
                         C.Measured > 0 ? C.Predicted.Est / C.Measured : 0.0,
                         C.inside() ? "" : "  outside");
  }
  Out << llvm::formatv("\n{0} parameters: median |log10(est/measured)| {1:f3}, "
                       "{2:f1}% within 2x, {3:f1}% inside [lo, hi], Spearman {4:f3}\n",
                       std::to_string(Rows.size()), Median, 100 * Within2 / N,
                       100 * Inside / N, Rho);
  if (!Verdicts.empty()) {
    Out << "\nfindings:\n";
    for (const Verdict &V : Verdicts)
      Out << "  [" << V.F->Code << "] " << V.F->Message << ": " << V.State << "\n";
  }
  return ExitOk;
}
