//===- GL101-vanishing-gradient.cpp ---------------------------------------===//
//
// A parameter whose predicted gradient is a tiny fraction of the model's
// largest barely moves under SGD, and below float32's normal range it is
// flushed to zero whatever the optimizer. Threshold 1e-3 is the one runtime
// monitors such as AUTOTRAINER use.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cfloat>
#include <cmath>
#include <set>

using namespace gradlint;

static const RuleOption Options[] = {
    {"ratio", 1e-3,
     "warn below this fraction of the largest parameter gradient"},
    {"error-ratio", 1e-6, "error below this fraction of the largest"},
};

/// A softmax is invariant to adding the same number to every logit of a row,
/// and a key bias adds q·b_k to the whole row: its gradient is exactly zero.
static bool isKeyBias(const ParamView &V) {
  return V.Role.Kind == "attention.k.bias";
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<ParamView> Views = parameterViews(C);
  std::set<std::string> SplitParents;
  for (const ParamView &V : Views)
    if (V.isSub())
      SplitParents.insert(V.P->Parent);
  const ParamView *Largest = nullptr;
  for (const ParamView &V : Views)
    if (!Largest || V.P->GradNorm.Est > Largest->P->GradNorm.Est)
      Largest = &V;
  std::vector<Finding> Out;
  if (!Largest || !(Largest->P->GradNorm.Est > 0))
    return Out;
  double Max = Largest->P->GradNorm.Est;
  double Warn = C.Options.get("ratio"), Fail = C.Options.get("error-ratio");
  for (const ParamView &V : Views) {
    // A split weight is judged by its blocks, which say which one vanishes.
    if (isKeyBias(V) || SplitParents.count(V.P->Name) || !V.Elements)
      continue;
    double Est = V.P->GradNorm.Est;
    double Ratio = Est / Max;
    double ElementRms = Est / std::sqrt(double(V.Elements));
    bool Flushed =
        V.P->Fp32 == Float32Outcome::Underflow || ElementRms < FLT_MIN;
    if (Ratio >= Warn && !Flushed)
      continue;
    Severity Level =
        Ratio < Fail || Flushed ? Severity::Error : Severity::Warning;
    Finding F = makeFinding(
        Level, "gradient of " + describe(V) + " is " + formatNumber(Ratio) +
                   " of the largest parameter gradient (" + formatNumber(Est) +
                   " against " + formatNumber(Max) + " of '" +
                   Largest->P->Name + "')");
    F.Parameter = V.P->Name;
    F.Block = V.Role.Block;
    F.Node = nodeName(C.M, V.P->Consumer);
    addEvidence(F, "grad_norm", Est);
    addEvidence(F, "grad_norm_lo", V.P->GradNorm.Lo);
    addEvidence(F, "grad_norm_hi", V.P->GradNorm.Hi);
    addEvidence(F, "largest_grad_norm", Max);
    F.Evidence["largest_parameter"] = Largest->P->Name;
    addEvidence(F, "ratio", Ratio);
    addEvidence(F, "element_rms", ElementRms);
    if (Flushed)
      F.Remedies.push_back(
          "its elements are about " + formatNumber(ElementRms) +
          ", below float32's smallest normal number 1.2e-38: float32 training "
          "sees a gradient of exactly 0 here");
    if (V.P->Fp32 == Float32Outcome::Noise)
      F.Remedies.push_back(
          "at this size a float32 gradient is mostly rounding "
          "residue: a probe will measure noise, not this value");
    F.Remedies.push_back(
        "fix the cause the other findings at this block name (initialization "
        "GL111, saturation GL109/GL103, missing residuals GL106 or norms "
        "GL107); "
        "gradient clipping only caps large gradients");
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL101 = {
    "GL101",
    "vanishing-gradient",
    Severity::Warning,
    "a parameter's predicted gradient is a tiny fraction of the largest",
    Options,
    check};
