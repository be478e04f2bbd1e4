//===- ProbeReport.cpp - `gradlint probe` output --------------------------===//
#include "gradlint/Probe/ProbeReport.h"
#include "gradlint/Shape/ShapeInference.h"
#include "llvm/Support/Format.h"
#include <cmath>

using namespace gradlint;

namespace {

/// JSON has no infinity or NaN: those become null.
llvm::json::Value number(double V) {
  if (!std::isfinite(V))
    return nullptr;
  return V;
}

llvm::json::Array shapeArray(llvm::ArrayRef<int64_t> S) {
  llvm::json::Array A;
  for (int64_t D : S)
    A.push_back(D);
  return A;
}

llvm::StringRef optimizerName(OptimizerKind K) {
  switch (K) {
  case OptimizerKind::SGD: return "sgd";
  case OptimizerKind::Adam: return "adam";
  }
  return "sgd";
}

uint64_t parameterCount(const Model &M) {
  uint64_t N = 0;
  for (ValueId V : M.G.Initializers) {
    const TensorData &T = M.G.Tensors[M.G.Values[V].Initializer];
    if (isFloatingPoint(T.Type))
      N += T.NumElements;
  }
  return N;
}

std::string humanBytes(uint64_t B) {
  const char *Units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double V = B;
  unsigned U = 0;
  while (V >= 1024 && U < 4)
    V /= 1024, ++U;
  std::string S;
  llvm::raw_string_ostream OS(S);
  OS << llvm::format(U ? "%.1f %s" : "%.0f %s", V, Units[U]);
  return OS.str();
}

} // namespace

llvm::json::Value gradlint::probeJson(const Model &M, const ProbeResult &R,
                                      const ProbeOptions &O) {
  llvm::json::Object Dims;
  for (const auto &[Name, V] : R.Dims)
    Dims[Name] = V;
  llvm::json::Object Model{
      {"path", M.Info.Path},
      {"opset", M.Info.onnxOpset()},
      {"producer", M.Info.Producer},
      {"nodes", static_cast<int64_t>(M.G.Nodes.size())},
      {"parameters", static_cast<int64_t>(parameterCount(M))},
      {"dims", std::move(Dims)}};
  llvm::json::Array Params;
  for (const ParamGrad &P : R.Parameters) {
    llvm::json::Object Obj{{"name", P.Name},
                           {"shape", shapeArray(P.Shape)},
                           {"grad_norm", number(P.GradNorm)}};
    if (!P.Parent.empty())
      Obj["parent"] = P.Parent;
    Params.push_back(std::move(Obj));
  }
  llvm::json::Array Steps;
  for (const StepRecord &S : R.Steps) {
    llvm::json::Object Ratios;
    for (const auto &[Name, V] : S.UpdateRatios)
      Ratios[Name] = number(V);
    Steps.push_back(llvm::json::Object{{"step", static_cast<int64_t>(S.Step)},
                                       {"loss", number(S.Loss)},
                                       {"update_ratio", std::move(Ratios)}});
  }
  llvm::json::Object Out{
      {"schema", "gradlint.probe/1"},
      {"model", std::move(Model)},
      {"device", R.Device},
      {"seed", static_cast<int64_t>(R.Seed)},
      {"loss", llvm::json::Object{{"kind", R.LossKind}, {"value", number(R.Loss0)}}},
      {"parameters", std::move(Params)},
      {"steps", std::move(Steps)},
      {"optimizer", llvm::json::Object{{"kind", optimizerName(O.Optimizer)},
                                       {"lr", O.LearningRate}}},
      {"memory", llvm::json::Object{{"peak_bytes", static_cast<int64_t>(R.PeakBytes)}}}};
  if (O.Activations) {
    llvm::json::Array Acts;
    for (const auto &[Name, V] : R.ActivationGradNorms)
      Acts.push_back(llvm::json::Object{{"name", Name}, {"grad_norm", number(V)}});
    Out["activations"] = std::move(Acts);
  }
  return Out;
}

void gradlint::printProbeText(llvm::raw_ostream &OS, const Model &M,
                              const ProbeResult &R, const ProbeOptions &O) {
  OS << "probe    " << M.Info.Path << " (" << R.Device << ", seed " << R.Seed
     << ")\n";
  if (!R.Dims.empty()) {
    OS << "dims    ";
    for (const auto &[Name, V] : R.Dims)
      OS << " " << Name << "=" << V;
    OS << "\n";
  }
  OS << "loss     " << R.LossKind << " " << llvm::format("%.6g", R.Loss0);
  if (R.LossKind == "ce")
    OS << " (mean cross-entropy over " << R.Rows << " rows, vocabulary "
       << R.Vocab << "; ln V = " << llvm::format("%.4g", std::log(double(R.Vocab)))
       << ")\n";
  else
    OS << " (projection over " << R.Rows << " rows)\n";
  size_t NameW = 9, ShapeW = 5;
  for (const ParamGrad &P : R.Parameters) {
    NameW = std::max(NameW, P.Name.size());
    ShapeW = std::max(ShapeW, formatShape(P.Shape).size());
  }
  if (!R.Parameters.empty()) {
    OS << "\n  " << llvm::left_justify("parameter", NameW) << "  "
       << llvm::left_justify("shape", ShapeW) << "  grad norm\n";
    for (const ParamGrad &P : R.Parameters)
      OS << "  " << llvm::left_justify(P.Name, NameW) << "  "
         << llvm::left_justify(formatShape(P.Shape), ShapeW) << "  "
         << llvm::format("%.4e", P.GradNorm) << "\n";
  }
  if (!R.ActivationGradNorms.empty()) {
    size_t W = 10;
    for (const auto &[Name, V] : R.ActivationGradNorms)
      W = std::max(W, Name.size());
    OS << "\n  " << llvm::left_justify("activation", W) << "  grad norm\n";
    for (const auto &[Name, V] : R.ActivationGradNorms)
      OS << "  " << llvm::left_justify(Name, W) << "  "
         << llvm::format("%.4e", V) << "\n";
  }
  if (!R.Steps.empty()) {
    OS << "\nsteps    " << optimizerName(O.Optimizer) << ", lr "
       << llvm::format("%g", O.LearningRate) << "\n  step  loss          max |dW|/|W|  (parameter)\n";
    for (const StepRecord &S : R.Steps) {
      // The largest finite ratio (zero weights that move have an infinite one).
      const std::pair<std::string, double> *Max = nullptr;
      for (const auto &P : S.UpdateRatios)
        if (std::isfinite(P.second) && (!Max || P.second > Max->second))
          Max = &P;
      OS << "  " << llvm::right_justify(std::to_string(S.Step), 4) << "  "
         << llvm::format("%-12.6g", S.Loss) << "  "
         << llvm::format("%.4e", Max ? Max->second : 0.0) << "    "
         << (Max ? Max->first : "") << "\n";
    }
  }
  OS << "\nmemory   peak " << humanBytes(R.PeakBytes) << " of device memory\n";
}
