//===- FeedForward.cpp - feed-forward layers and their activations --------===//
//
//   x ─▶ Up [+ b] ─▶ act ─▶ Down [+ b]                      (relu, gelu, ...)
//
//   x ─▶ Gate [+ b] ─▶ act ─┐
//   x ─▶ Up [+ b] ──────────┴─▶ Mul ─▶ Down [+ b]           (swiglu, geglu)
//
//   x ─▶ GateUp ─▶ Split|Slice ─▶ [0] ─▶ act ─┐
//                               └▶ [1] ───────┴─▶ Mul ─▶ Down
//
// Each Down candidate (a linear layer) is tried: its input must be an
// activation from the tables below applied to the output of an Up layer.
//
//===----------------------------------------------------------------------===//
#include "Match.h"

using namespace gradlint;
using namespace gradlint::structure;

namespace {

// GELU, erf form (torch, BERT):
//   h ─▶ Div(h, √2) | Mul(h, 1/√2) ─▶ Erf ─▶ Add(1) ─┬─▶ Mul(h, ·) ─▶ Mul(½)
//                                                  └─▶ Mul(½h, ·) | Mul(h, ½·)
const PatternRow GeluErfPattern[] = {
    {"a", OpKind::Mul, {"hp", "=0.5"}},
    {"a", OpKind::Mul, {"hh", "e1"}},
    {"a", OpKind::Mul, {"h", "eh"}},
    {"hp", OpKind::Mul, {"h", "e1"}},
    {"hh", OpKind::Mul, {"h", "=0.5"}},
    {"eh", OpKind::Mul, {"e1", "=0.5"}},
    {"e1", OpKind::Add, {"e", "=1"}},
    {"e", OpKind::Erf, {"z"}},
    {"z", OpKind::Div, {"h", "=1.41421356"}},
    {"z", OpKind::Mul, {"h", "=0.70710678"}},
};

// GELU, tanh form (GPT-2's gelu_new):
//   h ─▶ Pow(h, 3) | Mul(h, Mul(h, h)) ─▶ Mul(0.044715) ─▶ Add(h) ─▶ Mul(√(2/π))
//     ─▶ Tanh ─▶ Add(1) ─▶ Mul(h, ·) ─▶ Mul(½)   (or the ½ on either factor)
const PatternRow GeluTanhPattern[] = {
    {"a", OpKind::Mul, {"hp", "=0.5"}},
    {"a", OpKind::Mul, {"hh", "t1"}},
    {"a", OpKind::Mul, {"h", "th"}},
    {"hp", OpKind::Mul, {"h", "t1"}},
    {"hh", OpKind::Mul, {"h", "=0.5"}},
    {"th", OpKind::Mul, {"t1", "=0.5"}},
    {"t1", OpKind::Add, {"t", "=1"}},
    {"t", OpKind::Tanh, {"u"}},
    {"u", OpKind::Mul, {"w", "=0.7978845608"}},
    {"w", OpKind::Add, {"h", "c3"}},
    {"c3", OpKind::Mul, {"h3", "=0.044715"}},
    {"h3", OpKind::Pow, {"h", "=3"}},
    {"h3", OpKind::Mul, {"h", "h2"}},
    {"h2", OpKind::Mul, {"h", "h"}},
};

// SiLU / swish:  h ─┬─▶ Sigmoid ─┐
//                   └────────────┴─▶ Mul
const PatternRow SiluPattern[] = {
    {"a", OpKind::Mul, {"h", "s"}},
    {"s", OpKind::Sigmoid, {"h"}},
};

// QuickGELU:  h ─┬─▶ Mul(1.702) ─▶ Sigmoid ─┐
//                └──────────────────────────┴─▶ Mul
const PatternRow QuickGeluPattern[] = {
    {"a", OpKind::Mul, {"h", "s"}},
    {"s", OpKind::Sigmoid, {"k"}},
    {"k", OpKind::Mul, {"h", "=1.702"}},
};

struct CompositeForm {
  const char *Name;
  llvm::ArrayRef<PatternRow> Pattern;
};

const CompositeForm CompositeActivations[] = {
    {"gelu", GeluErfPattern},
    {"gelu_tanh", GeluTanhPattern},
    {"silu", SiluPattern},
    {"quick_gelu", QuickGeluPattern},
};

/// One-op activations; fused contrib ops take their bias as input 1.
struct SingleOpForm {
  OpKind Op;
  const char *Name;
};

const SingleOpForm SingleOpActivations[] = {
    {OpKind::Relu, "relu"},           {OpKind::Gelu, "gelu"},
    {OpKind::MsGelu, "gelu"},         {OpKind::BiasGelu, "gelu"},
    {OpKind::FastGelu, "gelu_tanh"},  {OpKind::QuickGelu, "quick_gelu"},
    {OpKind::Sigmoid, "sigmoid"},     {OpKind::Tanh, "tanh"},
    {OpKind::LeakyRelu, "leaky_relu"}, {OpKind::Elu, "elu"},
    {OpKind::Selu, "selu"},           {OpKind::Softplus, "softplus"},
    {OpKind::Mish, "mish"},           {OpKind::HardSigmoid, "hard_sigmoid"},
};

/// Gated FFNs are named after their activation.
struct GatedName {
  const char *Activation, *Gated;
};
const GatedName GatedNames[] = {
    {"silu", "swiglu"},       {"gelu", "geglu"},   {"gelu_tanh", "geglu"},
    {"quick_gelu", "geglu"},  {"relu", "reglu"},   {"sigmoid", "glu"},
};

struct Activation {
  std::string Name;
  ValueId In = NoId;
  ValueId Bias = NoId; ///< FastGelu/BiasGelu's bias
  NodeId Node = NoId;  ///< the op that applies the nonlinearity
  std::vector<NodeId> Nodes;
};

std::optional<Activation> activationAt(const Graph &G, ValueId A) {
  const Node *N = producer(G, A);
  if (!N || isConstant(G, A))
    return std::nullopt;
  for (const SingleOpForm &F : SingleOpActivations) {
    if (F.Op != N->Kind)
      continue;
    Activation Act;
    Act.Name = F.Name;
    if (N->Kind == OpKind::Gelu && N->getString("approximate", "none") == "tanh")
      Act.Name = "gelu_tanh";
    Act.In = N->input(0);
    if (N->Kind == OpKind::FastGelu || N->Kind == OpKind::BiasGelu)
      Act.Bias = parameterOf(G, N->input(1));
    Act.Node = G.Values[A].Producer;
    Act.Nodes.push_back(Act.Node);
    return Act;
  }
  for (const CompositeForm &F : CompositeActivations) {
    auto M = matchPattern(G, F.Pattern, A);
    if (!M)
      continue;
    Activation Act;
    Act.Name = F.Name;
    Act.In = M->value("h");
    for (const char *Core : {"e", "t", "s"})
      if (M->node(Core) != NoId)
        Act.Node = M->node(Core);
    Act.Nodes.assign(M->Nodes.begin(), M->Nodes.end());
    return Act;
  }
  return std::nullopt;
}

/// The linear layer (or fused part of one) that produces V.
struct Source {
  const Linear *L = nullptr;
  std::optional<LinearPart> Part;
};

Source sourceOf(const Graph &G, const Linears &Ls, ValueId V) {
  Source S;
  V = layoutRoot(G, V);
  if ((S.L = Ls.byOut(V)))
    return S;
  if ((S.Part = linearPartOf(G, Ls, V)))
    S.L = S.Part->L;
  return S;
}

void addLinear(FfnInfo &F, const Source &S) {
  F.Nodes.insert(F.Nodes.end(), S.L->Nodes.begin(), S.L->Nodes.end());
  if (S.Part)
    F.Nodes.push_back(S.Part->Cut);
}

std::optional<FfnInfo> gatedAt(const Graph &G, const Linears &Ls, ValueId Y) {
  const Node *Mul = producer(G, Y);
  if (!Mul || Mul->Kind != OpKind::Mul)
    return std::nullopt;
  for (unsigned ActSide = 0; ActSide < 2; ++ActSide) {
    ValueId A = Mul->input(ActSide), U = Mul->input(1 - ActSide);
    auto Act = activationAt(G, layoutRoot(G, A));
    if (!Act)
      continue;
    Source Gate = sourceOf(G, Ls, Act->In), Up = sourceOf(G, Ls, U);
    if (!Gate.L || !Up.L || (Gate.L == Up.L && !Gate.Part) ||
        layoutRoot(G, Gate.L->In) != layoutRoot(G, Up.L->In))
      continue;
    FfnInfo F;
    F.Gated = true;
    F.Activation = Act->Name + "_glu";
    for (const GatedName &N : GatedNames)
      if (Act->Name == N.Activation)
        F.Activation = N.Gated;
    F.ActivationNode = Act->Node;
    F.Gate = Gate.L->Product;
    F.GateWeight = Gate.L->Weight;
    F.GateBias = Gate.L->Bias != NoId ? Gate.L->Bias : Act->Bias;
    F.Up = Up.L->Product;
    F.UpWeight = Up.L->Weight;
    F.UpBias = Up.L->Bias;
    F.GateValue = layoutRoot(G, Act->In);
    F.UpValue = layoutRoot(G, U);
    F.Input = layoutRoot(G, Up.L->In);
    F.Nodes = Act->Nodes;
    F.Nodes.push_back(G.Values[Y].Producer);
    addLinear(F, Gate);
    addLinear(F, Up);
    return F;
  }
  return std::nullopt;
}

std::optional<FfnInfo> plainAt(const Graph &G, const Linears &Ls, ValueId Y) {
  auto Act = activationAt(G, Y);
  if (!Act)
    return std::nullopt;
  Source Up = sourceOf(G, Ls, Act->In);
  if (!Up.L || Up.Part)
    return std::nullopt;
  FfnInfo F;
  F.Activation = Act->Name;
  F.ActivationNode = Act->Node;
  F.Up = Up.L->Product;
  F.UpWeight = Up.L->Weight;
  F.UpBias = Up.L->Bias != NoId ? Up.L->Bias : Act->Bias;
  F.Input = layoutRoot(G, Up.L->In);
  F.Nodes = Act->Nodes;
  addLinear(F, Up);
  return F;
}

} // namespace

std::vector<FfnInfo> structure::findFeedForward(const Graph &G,
                                                const Linears &Ls) {
  std::vector<FfnInfo> Out;
  for (const Linear &Down : Ls.All) {
    ValueId Y = layoutRoot(G, Down.In);
    auto F = gatedAt(G, Ls, Y);
    if (!F)
      F = plainAt(G, Ls, Y);
    if (!F)
      continue;
    F->Down = Down.Product;
    F->DownWeight = Down.Weight;
    F->DownBias = Down.Bias;
    F->Nodes.insert(F->Nodes.end(), Down.Nodes.begin(), Down.Nodes.end());
    llvm::SmallVector<NodeId, 4> Tail;
    F->Output = layoutTail(G, Down.Out, &Tail);
    F->Nodes.insert(F->Nodes.end(), Tail.begin(), Tail.end());
    llvm::sort(F->Nodes);
    F->Nodes.erase(std::unique(F->Nodes.begin(), F->Nodes.end()), F->Nodes.end());
    Out.push_back(std::move(*F));
  }
  return Out;
}
