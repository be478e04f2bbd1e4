//===- GL109-saturating-activation.cpp ------------------------------------===//
//
// tanh and sigmoid have derivatives below 2e-4 and 7e-3 at |x| ≥ 5: where
// most of the pre-activation lies there, the gradient through the unit is
// nearly zero. Assumes each input feature is N(mean, var) as the analysis
// summarizes it. GELU (tanh form), SiLU and QuickGELU use these functions
// internally but do not saturate for large inputs, so they are skipped.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"share", 0.5, "report when this share of the input is saturated"},
    {"threshold", 5, "|x| at and above which the unit counts as saturated"},
};

/// The value of a scalar constant (folded, Constant or initializer).
static bool scalarValue(const Graph &G, ValueId V, double &Out) {
  if (V == NoId)
    return false;
  const Value &Val = G.Values[V];
  if (Val.Const && Val.Const->size() == 1) {
    Out = Val.Const->real(0);
    return true;
  }
  std::vector<double> D;
  if (const TensorData *T = G.initializer(V);
      T && T->NumElements == 1 && T->toDoubles(D)) {
    Out = D[0];
    return true;
  }
  return false;
}

/// x · c for a scalar constant c: returns x, or NoId.
static ValueId scaledInput(const Graph &G, ValueId V, double Lo, double Hi) {
  NodeId P = V == NoId ? NoId : G.Values[V].Producer;
  if (P == NoId || G.Nodes[P].Kind != OpKind::Mul)
    return NoId;
  const Node &N = G.Nodes[P];
  for (unsigned I = 0; I < 2; ++I) {
    double C;
    if (scalarValue(G, N.input(I), C) && C >= Lo && C <= Hi)
      return N.input(1 - I);
  }
  return NoId;
}

/// tanh inside 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), or sigmoid inside
/// x·sigmoid(x) or x·sigmoid(1.702x).
static bool isSmoothGate(const Graph &G, const Node &N) {
  ValueId In = N.input(0);
  if (N.Kind == OpKind::Tanh)
    return scaledInput(G, In, 0.79, 0.80) != NoId;
  ValueId X = In;
  if (ValueId Inner = scaledInput(G, In, 1.6, 1.8); Inner != NoId)
    X = Inner;
  for (NodeId U : G.Values[N.Outputs[0]].Users) {
    const Node &M = G.Nodes[U];
    if (M.Kind == OpKind::Mul && (M.input(0) == X || M.input(1) == X))
      return true;
  }
  return false;
}

static double derivative(OpKind K, double X) {
  if (K == OpKind::Tanh) {
    double T = std::tanh(X);
    return 1 - T * T;
  }
  double S = 1 / (1 + std::exp(-X));
  return S * (1 - S);
}

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  const Graph &G = C.M.G;
  double Limit = C.Options.get("share"), T = C.Options.get("threshold");
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    if ((N.Kind != OpKind::Tanh && N.Kind != OpKind::Sigmoid) ||
        N.Outputs.empty() || N.input(0) == NoId || isSmoothGate(G, N))
      continue;
    ValueId In = N.input(0);
    if (In >= C.A.Forward.size())
      continue;
    const ValueSummary &S = C.A.Forward[In];
    double Share =
        hasMoments(S)
            ? tailShare(S, T)
            : (Id < C.A.Facts.size() ? C.A.Facts[Id].SaturatedShare : 0);
    if (Share <= Limit)
      continue;
    bool Tanh = N.Kind == OpKind::Tanh;
    double Rms = std::sqrt(meanSquare(S));
    int Block = C.S.blockOf(Id);
    std::string Where = Block >= 0 ? " in block " + std::to_string(Block) : "";
    if (Block >= 0 && C.S.Blocks[Block].Ffn &&
        C.S.Blocks[Block].Ffn->ActivationNode == Id)
      Where += " feed-forward";
    Finding F =
        makeFinding(Severity::Warning,
                    std::string(Tanh ? "tanh" : "sigmoid") + Where +
                        " saturates: " + formatPercent(Share) +
                        " of its input has |x| >= " + formatNumber(T) +
                        (Rms > 0 ? " (input RMS " + formatNumber(Rms) + ")"
                                 : std::string()));
    F.Block = Block;
    F.Node = N.Name;
    addEvidence(F, "saturated_share", Share);
    addEvidence(F, "threshold", T);
    if (hasMoments(S)) {
      addEvidence(F, "input_rms", Rms);
      // Mean derivative against the unit's largest, at 0.
      // tanh' and sigmoid' are below 1e-15 beyond |x| = 40.
      double Mean = gaussianMean(
          S, [&](double X) { return derivative(N.Kind, X); }, 40);
      addEvidence(F, "mean_derivative_ratio", Mean / derivative(N.Kind, 0));
    }
    ValueId W = producingWeight(G, In);
    const ParameterPrediction *P = nullptr;
    for (const ParameterPrediction &Q : C.A.Parameters)
      if (Q.Value == W && Q.Parent.empty())
        P = &Q;
    if (P && Rms > 0) {
      F.Parameter = P->Name;
      uint64_t Count = 1;
      double Std = numElements(P->Shape, Count) && Count
                       ? P->WeightNorm / std::sqrt(double(Count))
                       : 0;
      std::string Init = Std > 0
                             ? " (init std about " + formatNumber(Std / Rms) +
                                   " instead of " + formatNumber(Std) + ")"
                             : "";
      F.Remedies.push_back("scale the weight '" + P->Name +
                           "' that feeds it by about " + formatNumber(1 / Rms) +
                           ", so its input has RMS 1" + Init);
    }
    F.Remedies.push_back("or normalize its input (a LayerNorm right before the "
                         "activation)");
    F.Remedies.push_back(
        std::string("or use an activation that does not saturate "
                    "for large inputs (GELU, ReLU)") +
        (Tanh ? ""
              : "; a sigmoid gate may saturate by design, "
                "then suppress this finding"));
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL109 = {
    "GL109",
    "saturating-activation",
    Severity::Warning,
    "most of a tanh/sigmoid input lies where its derivative is nearly zero",
    Options,
    check};
