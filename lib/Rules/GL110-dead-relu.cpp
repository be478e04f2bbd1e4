//===- GL110-dead-relu.cpp ------------------------------------------------===//
//
// ReLU passes no gradient where its input is ≤ 0. At a healthy
// initialization about half the pre-activation is negative; when most of it
// is, most units get no gradient and may never recover. Assumes each input
// feature is N(mean, var) as the analysis summarizes it.
//
//===----------------------------------------------------------------------===//
#include "RuleSupport.h"
#include <cmath>

using namespace gradlint;

static const RuleOption Options[] = {
    {"share", 0.7, "report when this share of the input is non-positive"},
};

static std::vector<Finding> check(const RuleContext &C) {
  std::vector<Finding> Out;
  const Graph &G = C.M.G;
  double Limit = C.Options.get("share");
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    ValueId In = N.input(0);
    if (N.Kind != OpKind::Relu || In == NoId || In >= C.A.Forward.size())
      continue;
    const ValueSummary &S = C.A.Forward[In];
    double Share =
        hasMoments(S)
            ? nonPositiveShare(S)
            : (Id < C.A.Facts.size() ? C.A.Facts[Id].InactiveShare : 0);
    if (Share < Limit)
      continue;
    int Block = C.S.blockOf(Id);
    std::string Where = Block >= 0 ? " in block " + std::to_string(Block) : "";
    if (Block >= 0 && C.S.Blocks[Block].Ffn &&
        C.S.Blocks[Block].Ffn->ActivationNode == Id)
      Where += " feed-forward";
    Finding F = makeFinding(Severity::Warning,
                            "relu" + Where + " is inactive for " +
                                formatPercent(Share) +
                                " of its input, which gets no gradient there");
    F.Block = Block;
    F.Node = N.Name;
    addEvidence(F, "inactive_share", Share);
    double MeanOfMeans = 0, Rms = 0;
    if (hasMoments(S)) {
      for (double M : S.Mean)
        MeanOfMeans += M;
      MeanOfMeans /= S.Mean.size();
      Rms = std::sqrt(meanSquare(S));
      addEvidence(F, "input_mean", MeanOfMeans);
      addEvidence(F, "input_rms", Rms);
    }
    // A bias that shifts the pre-activation down is the usual cause.
    if (NodeId P = G.Values[In].Producer;
        P != NoId && G.Nodes[P].Kind == OpKind::Add) {
      for (unsigned I = 0; I < 2; ++I) {
        ValueId B = G.Nodes[P].input(I);
        const TensorData *T = G.initializer(B);
        std::vector<double> Bias;
        if (!T || T->Shape.size() != 1 || !T->toDoubles(Bias) || Bias.empty())
          continue;
        double Mean = 0;
        for (double V : Bias)
          Mean += V;
        Mean /= Bias.size();
        if (Mean < 0 && (Rms == 0 || Mean < -0.25 * Rms)) {
          F.Parameter = G.Values[B].Name;
          addEvidence(F, "bias_mean", Mean);
          F.Remedies.push_back("the bias '" + G.Values[B].Name + "' averages " +
                               formatNumber(Mean) +
                               ": initialize it to 0 (or slightly positive)");
        }
      }
    }
    F.Remedies.push_back("or use an activation with a gradient for x < 0 "
                         "(LeakyReLU, GELU)");
    F.Remedies.push_back("or normalize its input so it is centred at 0");
    Out.push_back(std::move(F));
  }
  return Out;
}

const Rule rules::GL110 = {
    "GL110",
    "dead-relu",
    Severity::Warning,
    "most of a ReLU's input is non-positive, so it passes no gradient",
    Options,
    check};
