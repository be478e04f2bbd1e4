//===- Plan.cpp - what runs, what folds, what needs a gradient ------------===//
//
// Once per executor: the rule of every node; which values come from the
// constants shape inference folded (Value::Const) and which nodes must run;
// which values a differentiable path joins to the loss outputs (those need
// a gradient); and the device copies of the initializers.
//
//===----------------------------------------------------------------------===//
#include "OpContext.h"
#include "Ops/Layout.h"
#include "Ops/Rules.h"
#include "gradlint/Structure/Structure.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/DenseSet.h"
#include <cmath>
#include <cstring>

using namespace gradlint;
using namespace gradlint::probe;

namespace {

/// A float initializer holding -inf or huge fills: an attention mask an
/// exporter kept as a buffer, not a trainable parameter (as the analysis
/// treats it).
bool isMaskBuffer(const TensorData &T) {
  auto Fill = [](float X) { return !std::isfinite(X) || std::fabs(X) >= 1e4f; };
  if (T.Type == DataType::Float && T.Bytes.size() == T.NumElements * 4) {
    for (uint64_t I = 0; I != T.NumElements; ++I) {
      float X;
      std::memcpy(&X, T.Bytes.data() + 4 * I, 4);
      if (Fill(X))
        return true;
    }
    return false;
  }
  std::vector<float> Data;
  return T.toFloats(Data) && llvm::any_of(Data, Fill);
}

/// An operand of an Add that folded to an additive mask (0 / very negative):
/// a constant by construction, even when computed from a float buffer.
bool isAdditiveMask(const Node &N, const Value &In) {
  return N.Kind == OpKind::Add && In.Const && In.Const->size() > 1 &&
         llvm::any_of(In.Const->Reals, [](double X) { return X <= -1e3; });
}

/// Whether a gradient flows from N's outputs to its input I.
bool flows(const Graph &G, const Node &N, const OpRule &R, unsigned I) {
  ValueId In = N.Inputs[I];
  return In != NoId && (R.DiffInputs >> std::min(I, 31u) & 1) &&
         !isAdditiveMask(N, G.Values[In]);
}

} // namespace

NodeId OpContext::idOf(const Node &N) const {
  auto It = FusedIds.find(&N);
  return It != FusedIds.end() ? It->second : NodeId(&N - G.Nodes.data());
}

void OpContext::fuseNorms() {
  ModelStructure S = recoverStructure(M);
  std::vector<const NormInfo *> Norms;
  for (const BlockInfo &Block : S.Blocks)
    for (const NormInfo &Info : Block.Norms)
      Norms.push_back(&Info);
  for (const auto *List : {&S.EmbeddingNorms, &S.FinalNorms})
    for (const NormInfo &Info : *List)
      Norms.push_back(&Info);
  for (const NormInfo *NI : Norms) {
    const NormInfo &Info = *NI;
    bool RMS = Info.Kind == NormKind::RMSNorm;
    if (!Info.Decomposed || Info.Axis != -1 || Info.Gamma == NoId ||
        Info.Input == NoId || Info.Output == NoId)
      continue;
    // float32 in and out, same shape; γ and β cover the last axis.
    const Value &X = G.Values[Info.Input], &Y = G.Values[Info.Output];
    if (X.Type != DataType::Float || Y.Type != DataType::Float ||
        !X.HasShape || !Y.HasShape || X.Shape != Y.Shape || X.Shape.empty())
      continue;
    auto Covers = [&](ValueId P) {
      return P == NoId || (G.Values[P].Type == DataType::Float &&
                           G.Values[P].HasShape &&
                           product(G.Values[P].Shape) == X.Shape.back());
    };
    if (!Covers(Info.Gamma) || !Covers(Info.Beta))
      continue;
    // The pattern must be closed: what it computes on the way is used only
    // inside it, and no node of it is already part of another fusion.
    llvm::SmallDenseSet<NodeId, 16> Inside(Info.Nodes.begin(), Info.Nodes.end());
    NodeId Root = Y.Producer;
    bool Closed = Root != NoId && Inside.count(Root) &&
                  !(X.Producer != NoId && Inside.count(X.Producer));
    for (NodeId Id : Info.Nodes) {
      Closed &= Exec[Id] == &G.Nodes[Id];
      for (ValueId V : G.Nodes[Id].Outputs)
        if (V != NoId && V != Info.Output)
          Closed &= !G.Values[V].IsOutput &&
                    llvm::all_of(G.Values[V].Users,
                                 [&](NodeId U) { return Inside.count(U); });
    }
    if (!Closed)
      continue;
    Node F;
    F.Name = G.Nodes[Root].Name;
    F.OpType = RMS ? "RMSNormalization" : "LayerNormalization";
    F.Kind = RMS ? OpKind::RMSNormalization : OpKind::LayerNormalization;
    F.Opset = RMS ? 23 : 17;
    F.Inputs = {Info.Input, Info.Gamma};
    if (!RMS && Info.Beta != NoId)
      F.Inputs.push_back(Info.Beta);
    F.Outputs = {Info.Output};
    Attribute Axis, Eps;
    Axis.Name = "axis", Axis.Kind = AttrKind::Int, Axis.I = -1;
    Eps.Name = "epsilon", Eps.Kind = AttrKind::Float,
    Eps.F = static_cast<float>(Info.Epsilon);
    F.Attrs = {Axis, Eps};
    FusedNodes.push_back(std::move(F));
    for (NodeId Id : Info.Nodes)
      Exec[Id] = nullptr;
    Exec[Root] = &FusedNodes.back();
    FusedIds[&FusedNodes.back()] = Root;
  }
}

llvm::Error OpContext::plan() {
  size_t NV = G.Values.size(), NN = G.Nodes.size();
  Slots.assign(NV, {});
  SavedByNode.assign(NN, {});
  Rules.assign(NN, nullptr);
  Runs.assign(NN, false);
  RunsBackward.assign(NN, false);
  NeedsGrad.assign(NV, false);
  FromConst.assign(NV, false);
  Uses.assign(NV, 0);
  Keep.assign(NV, false);
  KeepHost.assign(NV, false);
  Flows.assign(NN, 0);
  Exec.assign(NN, nullptr);
  for (NodeId Id : G.Order)
    Exec[Id] = &G.Nodes[Id];
  if (Opts.FuseNorms && !Opts.KeepAllValues)
    fuseNorms();
  for (NodeId Id : G.Order) {
    if (!Exec[Id])
      continue;
    const Node &N = *Exec[Id];
    Rules[Id] = &ruleFor(N);
    for (unsigned I = 0; I != N.Inputs.size() && I < 32; ++I)
      if (flows(G, N, *Rules[Id], I))
        Flows[Id] |= 1u << I;
  }

  // Values whose data can change between passes: everything downstream of a
  // float initializer or a float graph input. The rest may come from Const.
  std::vector<bool> Sourced(NV, false);
  for (ValueId V : G.Initializers)
    Sourced[V] = isFloat(V);
  for (ValueId V : G.Inputs)
    Sourced[V] = isFloat(V);
  for (NodeId Id : G.Order) {
    if (!Exec[Id])
      continue;
    const Node &N = *Exec[Id];
    bool Any = false;
    if (N.Kind != OpKind::Shape && N.Kind != OpKind::Size)
      for (ValueId In : N.Inputs)
        Any |= In != NoId && Sourced[In];
    for (ValueId Out : N.Outputs)
      if (Out != NoId) {
        Sourced[Out] = Any;
        FromConst[Out] = !Any && G.Values[Out].Const != nullptr;
      }
  }

  // Which nodes run: those producing a value a running node or the caller
  // needs that is not a folded constant.
  std::vector<bool> Needed(NV, false);
  for (ValueId V : G.Outputs)
    Needed[V] = Keep[V] = true;
  for (ValueId V : Opts.LossOutputs)
    Needed[V] = Keep[V] = true;
  for (auto It = G.Order.rbegin(); It != G.Order.rend(); ++It) {
    if (!Exec[*It])
      continue;
    const Node &N = *Exec[*It];
    bool Run = false;
    for (ValueId Out : N.Outputs)
      Run |= Out != NoId && !FromConst[Out] && (Needed[Out] || Opts.KeepAllValues);
    if (!Run)
      continue;
    Runs[*It] = true;
    for (ValueId In : N.Inputs)
      if (In != NoId) {
        Needed[In] = true;
        ++Uses[In];
      }
  }
  if (Opts.KeepAllValues)
    Keep.assign(NV, true);

  // Every value a running node touches needs a concrete shape.
  for (NodeId Id : G.Order) {
    if (!Runs[Id])
      continue;
    const Node &N = *Exec[Id];
    if (Rules[Id]->Unsupported)
      return nodeError(N, Rules[Id]->Unsupported);
    for (ValueId V : N.Outputs)
      if (V != NoId && !G.Values[V].HasShape)
        return nodeError(N, "the shape of '" + G.Values[V].Name +
                                "' is unknown; the probe needs concrete shapes");
    for (ValueId V : N.Outputs)
      if (V != NoId && isFloat(V) &&
          (G.Values[V].Type == DataType::Float8E4M3FN ||
           G.Values[V].Type == DataType::Float8E4M3FNUZ ||
           G.Values[V].Type == DataType::Float8E5M2 ||
           G.Values[V].Type == DataType::Float8E5M2FNUZ ||
           G.Values[V].Type == DataType::Float8E8M0 ||
           G.Values[V].Type == DataType::Float4E2M1))
        return nodeError(N, "the probe computes float32, float16, bfloat16 "
                            "and float64 values only, not " +
                                dataTypeName(G.Values[V].Type));
  }

  // Differentiable reach: forward from float sources, backward from losses.
  std::vector<bool> Live(NV, false);
  for (ValueId V : G.Initializers)
    Live[V] = isFloat(V) && !isMaskBuffer(G.Tensors[G.Values[V].Initializer]);
  for (ValueId V : G.Inputs)
    Live[V] = isFloat(V);
  for (NodeId Id : G.Order) {
    if (!Runs[Id] || !Rules[Id]->Backward)
      continue;
    const Node &N = *Exec[Id];
    const OpRule &R = *Rules[Id];
    bool Any = false;
    for (unsigned I = 0; I != N.Inputs.size(); ++I)
      Any |= flows(G, N, R, I) && Live[N.Inputs[I]];
    for (ValueId Out : N.Outputs)
      if (Out != NoId)
        Live[Out] = Any && isFloat(Out);
  }
  std::vector<bool> Reaches(NV, false);
  std::vector<ValueId> Losses = Opts.LossOutputs;
  if (Losses.empty() && !G.Outputs.empty())
    Losses.push_back(G.Outputs[0]);
  for (ValueId V : Losses)
    Reaches[V] = Live[V];
  for (auto It = G.Order.rbegin(); It != G.Order.rend(); ++It) {
    if (!Runs[*It])
      continue;
    const Node &N = *Exec[*It];
    const OpRule &R = *Rules[*It];
    bool Any = false;
    for (ValueId Out : N.Outputs)
      Any |= Out != NoId && Reaches[Out];
    if (!Any || !R.Backward)
      continue;
    for (unsigned I = 0; I != N.Inputs.size(); ++I) {
      ValueId In = N.Inputs[I];
      if (flows(G, N, R, I) && Live[In]) {
        Reaches[In] = true;
        RunsBackward[*It] = Opts.Gradients;
      }
    }
  }
  for (ValueId V = 0; V != NV; ++V)
    NeedsGrad[V] = Opts.Gradients && Live[V] && Reaches[V];
  for (ValueId V : G.Initializers)
    if (NeedsGrad[V])
      Params.push_back(V);
  // Gradient rules read their nodes' integer inputs (axes, bounds) again.
  for (NodeId Id : G.Order)
    if (RunsBackward[Id])
      for (ValueId In : Exec[Id]->Inputs)
        if (In != NoId && !isFloat(In))
          KeepHost[In] = true;
  return llvm::Error::success();
}

llvm::Error OpContext::bindConstants() {
  for (ValueId V : G.Initializers) {
    const TensorData &T = G.Tensors[G.Values[V].Initializer];
    if (!Uses[V] && !NeedsGrad[V])
      continue;
    if (!isFloat(V)) {
      auto H = std::make_shared<HostTensor>();
      H->Type = T.Type;
      H->Shape = T.Shape;
      if (!T.toInt64s(H->Ints))
        return fileError(M.Info.Path, "initializer '" + T.Name + "' of type " +
                                          dataTypeName(T.Type) +
                                          " cannot be read as integers");
      Slots[V].H = H;
      continue;
    }
    std::vector<float> Data;
    if (!T.toFloats(Data))
      return fileError(M.Info.Path, "initializer '" + T.Name + "' of type " +
                                        dataTypeName(T.Type) +
                                        " cannot be read as float32");
    auto D = alloc(T.Shape);
    if (!D)
      return D.takeError();
    B.upload(D->Buf->base(), 0, Data.data(), Data.size() * 4);
    Slots[V].F = *D;
    Initializers[V] = *D;
  }
  for (ValueId V = 0; V != G.Values.size(); ++V)
    if (FromConst[V])
      Slots[V].H = G.Values[V].Const;
  return llvm::Error::success();
}
