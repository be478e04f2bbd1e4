//===- GL111-init-scale.cpp -----------------------------------------------===//
//
// Compares each linear weight's standard deviation with the one that keeps
// activation and gradient variance constant through the layer: Kaiming,
// sqrt(2 / fan_in), before ReLU-like activations (ReLU, GELU, SiLU, gated
// variants), and Xavier, gain · sqrt(2 / (fan_in + fan_out)), otherwise
// (gain 5/3 before tanh, 1 before sigmoid or nothing). Assumes the weight's
// mean is 0, so its RMS is its std. Embedding tables are not linear layers.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"low", 0.1, "report a std below this fraction of the recommended one"},
    {"high", 4, "report a std above this multiple of the recommended one"},
};

/// What follows the layer, from the structure or the graph.
static std::string activationAfter(const RuleContext &C, const ParamView &V,
                                   NodeId Product) {
  llvm::StringRef Kind = V.Role.Kind;
  if ((Kind == "ffn.up" || Kind == "ffn.gate") && V.Role.Block >= 0 &&
      V.Role.Block < int(C.S.Blocks.size()) && C.S.Blocks[V.Role.Block].Ffn)
    return C.S.Blocks[V.Role.Block].Ffn->Activation;
  const Graph &G = C.M.G;
  ValueId Y =
      G.Nodes[Product].Outputs.empty() ? NoId : G.Nodes[Product].Outputs[0];
  for (int Step = 0; Step < 2 && Y != NoId; ++Step) {
    ValueId Next = NoId;
    for (NodeId U : G.Values[Y].Users) {
      switch (G.Nodes[U].Kind) {
      case OpKind::Relu: return "relu";
      case OpKind::Tanh: return "tanh";
      case OpKind::Sigmoid: return "sigmoid";
      case OpKind::Gelu:
      case OpKind::FastGelu:
      case OpKind::MsGelu: return "gelu";
      case OpKind::Add:
        if (G.Values[Y].Users.size() == 1)
          Next = G.Nodes[U].Outputs[0]; // the bias
        break;
      default: break;
      }
    }
    Y = Next;
  }
  return "";
}

static bool isReluLike(llvm::StringRef A) {
  return A == "relu" || A == "leaky_relu" || A == "gelu" || A == "gelu_tanh" ||
         A == "silu" || A == "swiglu" || A == "geglu" || A == "quick_gelu";
}

/// Small or zero initializations are deliberate for projections that feed
/// the residual stream (GPT-2, Fixup) and harmless for query/key projections
/// (attention starts uniform); classification heads are often zeroed.
static bool smallIsFine(llvm::StringRef Kind) {
  return Kind == "attention.out" || Kind == "ffn.down" ||
         Kind == "attention.q" || Kind == "attention.k" || Kind == "head";
}

static double weightStd(const RuleContext &C, const ParamView &V) {
  if (V.P->WeightNorm > 0)
    return V.P->WeightNorm / std::sqrt(double(V.Elements));
  std::vector<double> D;
  const TensorData *T = C.M.G.initializer(V.P->Value);
  if (!T || !T->toDoubles(D) || D.empty())
    return 0;
  double Sum = 0;
  for (double X : D)
    Sum += X * X;
  return std::sqrt(Sum / D.size());
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  double Low = C.Options.get("low"), High = C.Options.get("high");
  for (const ParamView &V : parameterViews(C)) {
    if (V.isSub() || V.P->Shape.size() != 2 || !V.Elements ||
        llvm::StringRef(V.Role.Kind).startswith("embedding") ||
        V.P->Value == NoId)
      continue;
    auto Fans = linearFans(C.M.G, V.P->Value);
    if (!Fans)
      continue;
    std::string Act = activationAfter(C, V, Fans->Product);
    bool Kaiming = isReluLike(Act);
    double Gain = Act == "tanh" ? 5.0 / 3 : 1;
    double Want = Kaiming
                      ? std::sqrt(2.0 / Fans->FanIn)
                      : Gain * std::sqrt(2.0 / (Fans->FanIn + Fans->FanOut));
    double Std = weightStd(C, V);
    double Ratio = Std / Want;
    bool TooLarge = Ratio > High;
    bool TooSmall = Ratio < Low && !smallIsFine(V.Role.Kind);
    if (!TooLarge && !TooSmall)
      continue;
    std::string Scheme =
        Kaiming ? "Kaiming std sqrt(2/fan_in) for fan-in " +
                      std::to_string(Fans->FanIn)
                : std::string("Xavier std ") + (Gain != 1 ? "(5/3)*" : "") +
                      "sqrt(2/(fan_in+fan_out)) for fan-in " +
                      std::to_string(Fans->FanIn) + ", fan-out " +
                      std::to_string(Fans->FanOut);
    Finding F =
        makeFinding(Severity::Warning,
                    "init std of " + describe(V) + " is " + formatNumber(Std) +
                        ", " + formatNumber(TooLarge ? Ratio : 1 / Ratio) +
                        "x " + (TooLarge ? "above" : "below") +
                        " the recommended " + formatNumber(Want));
    F.Block = V.Role.Block;
    F.Parameter = V.P->Name;
    F.Node = nodeName(C.M, Fans->Product);
    addEvidence(F, "std", Std);
    addEvidence(F, "recommended_std", Want);
    addEvidence(F, "ratio", Ratio);
    F.Evidence["fan_in"] = Fans->FanIn;
    F.Evidence["fan_out"] = Fans->FanOut;
    F.Evidence["activation"] = Act.empty() ? "none" : Act;
    F.Remedies.push_back("initialize it with std " + formatNumber(Want) + " (" +
                         Scheme + (Act.empty() ? "" : ", followed by " + Act) +
                         "), e.g. normal(0, " + formatNumber(Want) +
                         ") or uniform(-" +
                         formatNumber(Want * std::sqrt(3.0)) + ", " +
                         formatNumber(Want * std::sqrt(3.0)) + ")");
    F.Remedies.push_back(TooLarge
                             ? "large weights saturate activations and "
                               "attention and make gradients explode with depth"
                             : "small weights shrink the activations after "
                               "this layer and the gradients of the layers "
                               "before it");
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL111 = {
    "GL111",
    "init-scale",
    Severity::Warning,
    "a linear weight's std is far from Xavier/Kaiming for its fans",
    Options,
    check};
