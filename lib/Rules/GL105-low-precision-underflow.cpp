//===- GL105-low-precision-underflow.cpp ----------------------------------===//
//
// Training in fp16 (or with fp16/bf16 weights) represents gradients in a
// narrow exponent range: below the smallest normal number they lose bits,
// below the smallest subnormal they are 0. Assumes each parameter's gradient
// elements are N(0, rms²) with rms = ‖g‖/√n, so the share of elements below
// t is erf(t / (rms·√2)) and the largest of n is about rms·√(2 ln n).
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include "gradlint/IR/Graph.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"share", 0.01,
     "report when this share of gradient elements falls below "
     "the normal range; the loss scale aims below it"},
};

struct FormatRange {
  llvm::StringRef Name;
  double MinNormal, MinSubnormal, Max;
};

static const FormatRange FP16 = {"fp16", 6.103515625e-5, 5.9604644775390625e-8,
                                 65504};
static const FormatRange BF16 = {"bf16", 1.1754943508222875e-38,
                                 9.183549615799121e-41, 3.3895313892515355e38};

/// The training plan, or the weights' own type when they are stored narrow.
static const FormatRange *rangeOf(const RuleContext &C) {
  switch (C.Precision) {
  case PrecisionKind::FP16: return &FP16;
  case PrecisionKind::BF16: return &BF16;
  case PrecisionKind::FP32: break;
  }
  for (const ParameterPrediction &P : C.A.Parameters) {
    if (P.Value == NoId || P.Value >= C.M.G.Values.size())
      continue;
    DataType T = C.M.G.Values[P.Value].Type;
    if (T == DataType::Float16)
      return &FP16;
    if (T == DataType::BFloat16)
      return &BF16;
  }
  return nullptr;
}

static double shareBelow(double Threshold, double Rms) {
  return Rms > 0 ? std::erf(Threshold / (Rms * std::sqrt(2.0))) : 1;
}

namespace {
struct Population {
  std::vector<std::pair<double, double>> Parts; ///< (elements, element rms)
  double Elements = 0;
  /// Share of all elements below T once the loss is scaled by Scale.
  double shareBelow(double T, double Scale) const {
    double Sum = 0;
    for (auto [N, Rms] : Parts)
      Sum += N * ::shareBelow(T, Rms * Scale);
    return Elements ? Sum / Elements : 0;
  }
};
} // namespace

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  const FormatRange *R = rangeOf(C);
  if (!R)
    return Out;
  Population Pop;
  double MaxElement = 0, MinRms = Infinity;
  const ParamView *Smallest = nullptr;
  std::vector<ParamView> Views = parameterViews(C);
  for (const ParamView &V : Views) {
    // Sub-parameters are parts of a parent counted whole; a key bias's
    // gradient is exactly zero in any format.
    if (V.isSub() || !V.Elements || V.Role.Kind == "attention.k.bias")
      continue;
    double N = double(V.Elements);
    double Rms = V.P->GradNorm.Est / std::sqrt(N);
    Pop.Parts.push_back({N, Rms});
    Pop.Elements += N;
    if (Rms > 0 && Rms < MinRms) {
      MinRms = Rms;
      Smallest = &V;
    }
    MaxElement =
        std::max(MaxElement, Rms * std::sqrt(2 * std::log(std::max(N, 2.0))));
  }
  double Limit = C.Options.get("share");
  double ShareNormal = Pop.shareBelow(R->MinNormal, 1);
  if (!Pop.Elements || !Smallest || ShareNormal < Limit)
    return Out;
  double ShareSub = Pop.shareBelow(R->MinSubnormal, 1);
  // The smallest static 2^k that brings the share below the limit, among
  // those that keep the largest predicted element finite.
  int Allow =
      MaxElement > 0 ? int(std::floor(std::log2(R->Max / MaxElement))) : 0;
  int Need = -1;
  for (int K = 1; K <= Allow && Need < 0; ++K)
    if (Pop.shareBelow(R->MinNormal, std::ldexp(1.0, K)) < Limit)
      Need = K;
  bool Fits = Need > 0;
  Finding F = makeFinding(
      Fits ? Severity::Warning : Severity::Error,
      "in " + R->Name.str() + ", " + formatPercent(ShareNormal) +
          " of parameter gradient elements fall below the normal range (" +
          formatNumber(R->MinNormal) + ") and " + formatPercent(ShareSub) +
          " below the subnormal range (" + formatNumber(R->MinSubnormal) +
          ", where they become 0)");
  F.Parameter = Smallest->P->Name;
  F.Block = Smallest->Role.Block;
  F.Node = nodeName(C.M, Smallest->P->Consumer);
  F.Evidence["precision"] = R->Name;
  addEvidence(F, "share_below_normal", ShareNormal);
  addEvidence(F, "share_below_subnormal", ShareSub);
  addEvidence(F, "smallest_element_rms", MinRms);
  addEvidence(F, "largest_element", MaxElement);
  F.Evidence["max_loss_scale_exponent"] = Allow;
  if (Fits) {
    F.Evidence["loss_scale_exponent"] = Need;
    double Scale = std::ldexp(1.0, Need);
    F.Remedies.push_back(
        "scale the loss by 2^" + std::to_string(Need) + " = " +
        formatNumber(Scale) +
        " and unscale the gradients before the optimizer step: the smallest "
        "static scale that leaves less than " +
        formatPercent(Limit) + " of the elements below the normal range (" +
        formatPercent(Pop.shareBelow(R->MinNormal, Scale)) +
        ") while the largest predicted element, " +
        formatNumber(MaxElement * Scale) + ", stays below " +
        formatNumber(R->Max));
    F.Remedies.push_back(
        "or use dynamic loss scaling (torch.cuda.amp.GradScaler), "
        "which searches for such a scale while training");
  } else {
    F.Remedies.push_back(
        "no static loss scale fits: up to 2^" +
        std::to_string(std::max(Allow, 0)) +
        " the largest elements stay below " + formatNumber(R->Max) +
        ", and at that scale " +
        formatPercent(
            Pop.shareBelow(R->MinNormal, std::ldexp(1.0, std::max(Allow, 0)))) +
        " of the elements are still below the normal range: these gradients "
        "span more than the format's range");
  }
  if (R == &FP16)
    F.Remedies.push_back("or train in bf16, which has float32's exponent range "
                         "and needs no loss scaling");
  F.Remedies.push_back("keep master weights and the optimizer state in float32 "
                       "either way; gradient clipping does not help underflow");
  Out.push_back(std::move(F));
  return Out;
}

const Rule rules::GL105 = {
    "GL105",           "low-precision-underflow",
    Severity::Warning, "fp16/bf16 gradients fall below the format's range",
    Options,           check};
