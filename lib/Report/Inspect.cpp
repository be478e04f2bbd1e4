//===- Inspect.cpp - describe a model -------------------------------------===//
#include "gradlint/Report/Inspect.h"
#include "llvm/Support/Format.h"
#include <cmath>
#include <set>

using namespace gradlint;

ModelSummary gradlint::summarize(const Model &M) {
  ModelSummary S;
  const Graph &G = M.G;
  S.Nodes = G.Nodes.size();
  std::set<std::string> Unknown;
  for (const Node &N : G.Nodes) {
    std::string Key = N.Domain.empty() || N.Domain == "ai.onnx"
                          ? N.OpType
                          : N.Domain + ":" + N.OpType;
    ++S.OpHistogram[Key];
    if (N.Kind == OpKind::Unknown)
      Unknown.insert(Key);
  }
  S.UnknownOps.assign(Unknown.begin(), Unknown.end());
  for (ValueId V : G.Initializers) {
    const TensorData &T = G.Tensors[G.Values[V].Initializer];
    ++S.Initializers;
    if (isFloatingPoint(T.Type))
      S.Parameters += T.NumElements;
    S.ParameterBytes += T.Bytes.size();
    if (T.External)
      S.ExternalBytes += T.Bytes.size();
  }
  return S;
}

llvm::json::Value gradlint::shapeJson(const Value &V) {
  if (!V.HasShape)
    return nullptr;
  llvm::json::Array A;
  for (int64_t D : V.Shape)
    A.push_back(D);
  return A;
}

llvm::json::Object gradlint::modelJson(const Model &M,
                                       const ShapeReport &Shapes) {
  ModelSummary S = summarize(M);
  llvm::json::Object Opsets, Dims;
  for (const auto &[D, V] : M.Info.Opsets)
    Opsets[D.empty() ? "ai.onnx" : D] = V;
  for (const auto &[Name, V] : Shapes.Dims)
    Dims[Name] = V;
  return llvm::json::Object{
      {"path", M.Info.Path},
      {"producer", M.Info.Producer},
      {"producer_version", M.Info.ProducerVersion},
      {"ir_version", M.Info.IrVersion},
      {"opset", M.Info.onnxOpset()},
      {"opsets", std::move(Opsets)},
      {"nodes", static_cast<int64_t>(S.Nodes)},
      {"parameters", static_cast<int64_t>(S.Parameters)},
      {"dims", std::move(Dims)},
  };
}

static llvm::json::Array valueList(const Model &M,
                                   const std::vector<ValueId> &Ids) {
  llvm::json::Array A;
  for (ValueId Id : Ids) {
    const Value &V = M.G.Values[Id];
    A.push_back(llvm::json::Object{{"name", V.Name},
                                   {"type", dataTypeName(V.Type)},
                                   {"shape", shapeJson(V)}});
  }
  return A;
}

llvm::json::Object gradlint::inspectJson(const Model &M,
                                         const ShapeReport &Shapes,
                                         const ModelStructure *Structure) {
  ModelSummary S = summarize(M);
  llvm::json::Object Ops;
  for (const auto &[Op, Count] : S.OpHistogram)
    Ops[Op] = Count;
  llvm::json::Array Unknown;
  for (const std::string &Op : S.UnknownOps)
    Unknown.push_back(Op);
  llvm::json::Array UnknownShapes;
  for (ValueId V : Shapes.Unknown)
    if (!M.G.Values[V].Name.empty())
      UnknownShapes.push_back(M.G.Values[V].Name);
  llvm::json::Object Model = modelJson(M, Shapes);
  Model["initializers"] = S.Initializers;
  Model["parameter_bytes"] = static_cast<int64_t>(S.ParameterBytes);
  Model["external_bytes"] = static_cast<int64_t>(S.ExternalBytes);
  llvm::json::Array Defaulted;
  for (const std::string &D : Shapes.Defaulted)
    Defaulted.push_back(D);
  llvm::json::Object Out{
      {"schema", "gradlint.inspect/1"},
      {"model", std::move(Model)},
      {"defaulted_dims", std::move(Defaulted)},
      {"inputs", valueList(M, M.G.Inputs)},
      {"outputs", valueList(M, M.G.Outputs)},
      {"ops", std::move(Ops)},
      {"unknown_ops", std::move(Unknown)},
      {"unknown_shapes", std::move(UnknownShapes)},
  };
  if (Structure) {
    Out["blocks"] = blocksJson(M, *Structure);
    Out["structure"] = structureJson(M, *Structure);
  }
  return Out;
}

static std::string humanBytes(uint64_t B) {
  const char *Units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double V = B;
  int U = 0;
  while (V >= 1024 && U < 4) {
    V /= 1024;
    ++U;
  }
  char Buf[32];
  snprintf(Buf, sizeof Buf, U ? "%.1f %s" : "%.0f %s", V, Units[U]);
  return Buf;
}

void gradlint::printInspectText(llvm::raw_ostream &OS, const Model &M,
                                const ShapeReport &Shapes,
                                const ModelStructure *Structure) {
  ModelSummary S = summarize(M);
  const ModelInfo &I = M.Info;
  OS << I.Path << "\n";
  OS << "  producer    " << (I.Producer.empty() ? "(none)" : I.Producer);
  if (!I.ProducerVersion.empty())
    OS << " " << I.ProducerVersion;
  OS << "\n  ir version  " << I.IrVersion << "\n  opsets      ";
  bool First = true;
  for (const auto &[D, V] : I.Opsets) {
    OS << (First ? "" : ", ") << (D.empty() ? "ai.onnx" : D) << " " << V;
    First = false;
  }
  OS << "\n  nodes       " << S.Nodes << "\n  parameters  " << S.Parameters
     << " in " << S.Initializers << " initializers, "
     << humanBytes(S.ParameterBytes);
  if (S.ExternalBytes)
    OS << " (" << humanBytes(S.ExternalBytes) << " external)";
  OS << "\n";
  if (!Shapes.Dims.empty()) {
    OS << "  dims        ";
    First = true;
    for (const auto &[Name, V] : Shapes.Dims) {
      bool Default = llvm::is_contained(Shapes.Defaulted, Name);
      OS << (First ? "" : ", ") << Name << "=" << V
         << (Default ? " (default)" : "");
      First = false;
    }
    OS << "\n";
  }
  auto PrintValues = [&](llvm::StringRef Title, const std::vector<ValueId> &Ids) {
    OS << "\n" << Title << ":\n";
    for (ValueId Id : Ids) {
      const Value &V = M.G.Values[Id];
      OS << "  " << V.Name << "  " << dataTypeName(V.Type) << " "
         << (V.HasShape ? formatShape(V.Shape) : std::string("[?]")) << "\n";
    }
  };
  PrintValues("inputs", M.G.Inputs);
  PrintValues("outputs", M.G.Outputs);
  OS << "\nops:\n";
  for (const auto &[Op, Count] : S.OpHistogram)
    OS << "  " << llvm::format("%6u", Count) << "  " << Op << "\n";
  if (!S.UnknownOps.empty()) {
    OS << "\nops gradlint does not know (gradients pass through them unbounded):\n";
    for (const std::string &Op : S.UnknownOps)
      OS << "  " << Op << "\n";
  }
  unsigned Named = 0;
  for (ValueId V : Shapes.Unknown)
    Named += !M.G.Values[V].Name.empty();
  if (Named) {
    OS << "\nvalues whose shape is unknown (" << Named << "):\n";
    unsigned Shown = 0;
    for (const auto &[Id, Why] : Shapes.Reasons) {
      if (Shown++ == 20) {
        OS << "  ...\n";
        break;
      }
      OS << "  " << M.G.Nodes[Id].Name << " (" << M.G.Nodes[Id].OpType
         << "): " << Why << "\n";
    }
  }
  if (Structure)
    printStructureText(OS, M, *Structure);
}

//===-- structure -----------------------------------------------------------===//

static llvm::json::Value nodeName(const Model &M, NodeId N) {
  if (N == NoId)
    return nullptr;
  return M.G.Nodes[N].Name;
}

static llvm::json::Value valueName(const Model &M, ValueId V) {
  if (V == NoId)
    return nullptr;
  return M.G.Values[V].Name;
}

static llvm::json::Value countOrNull(int64_t N) {
  if (N <= 0)
    return nullptr;
  return N;
}

static llvm::json::Array nodeNames(const Model &M, const std::vector<NodeId> &Ids) {
  llvm::json::Array A;
  for (NodeId N : Ids)
    A.push_back(M.G.Nodes[N].Name);
  return A;
}

static bool isScaled(const AttentionInfo &A) {
  return !A.ScaleKnown || std::fabs(A.Scale - 1) > 1e-6;
}

static llvm::json::Object normJson(const Model &M, const NormInfo &N) {
  return llvm::json::Object{
      {"kind", normKindName(N.Kind)},
      {"placement", normPlacementName(N.Placement)},
      {"sublayer", N.Sublayer},
      {"form", N.Form},
      {"decomposed", N.Decomposed},
      {"epsilon", N.Epsilon},
      {"axis", N.Axis},
      {"gamma", valueName(M, N.Gamma)},
      {"beta", valueName(M, N.Beta)},
      {"input", valueName(M, N.Input)},
      {"output", valueName(M, N.Output)},
      {"nodes", nodeNames(M, N.Nodes)},
  };
}

static llvm::json::Object attentionJson(const Model &M, const AttentionInfo &A) {
  llvm::json::Value Ratio = nullptr;
  if (A.ScaleKnown && A.HeadDim > 0)
    Ratio = A.Scale * std::sqrt(static_cast<double>(A.HeadDim));
  return llvm::json::Object{
      {"heads", countOrNull(A.Heads)},
      {"kv_heads", countOrNull(A.KvHeads)},
      {"head_dim", countOrNull(A.HeadDim)},
      {"scale", A.ScaleKnown ? llvm::json::Value(A.Scale) : nullptr},
      {"scaled", isScaled(A)},
      {"scale_ratio", std::move(Ratio)},
      {"softcap", A.Softcap != 0 ? llvm::json::Value(A.Softcap) : nullptr},
      {"mask", maskKindName(A.Mask)},
      {"fused_qkv", A.FusedQkv},
      {"rotary", A.Rotary},
      {"op", A.Fused != NoId ? llvm::json::Value(M.G.Nodes[A.Fused].OpType)
                             : nullptr},
      {"nodes", llvm::json::Object{{"q", nodeName(M, A.Q)},
                                   {"k", nodeName(M, A.K)},
                                   {"v", nodeName(M, A.V)},
                                   {"scores", nodeName(M, A.Scores)},
                                   {"softmax", nodeName(M, A.Softmax)},
                                   {"context", nodeName(M, A.Context)},
                                   {"out", nodeName(M, A.Out)},
                                   {"fused", nodeName(M, A.Fused)},
                                   {"masks", nodeNames(M, A.MaskNodes)}}},
      {"weights", llvm::json::Object{{"q", valueName(M, A.QWeight)},
                                     {"k", valueName(M, A.KWeight)},
                                     {"v", valueName(M, A.VWeight)},
                                     {"out", valueName(M, A.OutWeight)}}},
      {"input", valueName(M, A.Input)},
      {"output", valueName(M, A.Output)},
  };
}

static llvm::json::Object ffnJson(const Model &M, const FfnInfo &F) {
  return llvm::json::Object{
      {"activation", F.Activation},
      {"gated", F.Gated},
      {"nodes", llvm::json::Object{{"up", nodeName(M, F.Up)},
                                   {"gate", nodeName(M, F.Gated ? F.Gate : NoId)},
                                   {"down", nodeName(M, F.Down)},
                                   {"activation", nodeName(M, F.ActivationNode)}}},
      {"weights", llvm::json::Object{{"up", valueName(M, F.UpWeight)},
                                     {"gate", valueName(M, F.GateWeight)},
                                     {"down", valueName(M, F.DownWeight)}}},
      {"input", valueName(M, F.Input)},
      {"output", valueName(M, F.Output)},
  };
}

static unsigned sublayers(const BlockInfo &B) {
  return (B.Attention ? 1 : 0) + (B.CrossAttention ? 1 : 0) + (B.Ffn ? 1 : 0);
}

llvm::json::Array gradlint::blocksJson(const Model &M, const ModelStructure &S) {
  llvm::json::Array Out;
  for (const BlockInfo &B : S.Blocks) {
    llvm::json::Array Norms, Residuals;
    for (const NormInfo &N : B.Norms)
      Norms.push_back(normJson(M, N));
    for (const ResidualInfo &R : B.Residuals)
      Residuals.push_back(llvm::json::Object{{"node", nodeName(M, R.Add)},
                                             {"skip", valueName(M, R.Skip)},
                                             {"branch", valueName(M, R.Branch)},
                                             {"output", valueName(M, R.Output)}});
    Out.push_back(llvm::json::Object{
        {"index", static_cast<int64_t>(B.Index)},
        {"kind", B.kind()},
        {"norm", normPlacementName(B.Norm)},
        {"residual", !B.Residuals.empty() && B.Residuals.size() == sublayers(B)},
        {"attention", B.Attention ? llvm::json::Value(attentionJson(M, *B.Attention))
                                  : nullptr},
        {"cross_attention", B.CrossAttention
                                ? llvm::json::Value(attentionJson(M, *B.CrossAttention))
                                : nullptr},
        {"ffn", B.Ffn ? llvm::json::Value(ffnJson(M, *B.Ffn)) : nullptr},
        {"norms", std::move(Norms)},
        {"residuals", std::move(Residuals)},
        {"nodes", static_cast<int64_t>(B.Nodes.size())},
    });
  }
  return Out;
}

llvm::json::Object gradlint::structureJson(const Model &M,
                                           const ModelStructure &S) {
  llvm::json::Array Embeddings, EmbeddingNorms, FinalNorms;
  for (const EmbeddingInfo &E : S.Embeddings)
    Embeddings.push_back(llvm::json::Object{{"table", valueName(M, E.Table)},
                                            {"gather", nodeName(M, E.Gather)},
                                            {"positional", E.Positional},
                                            {"add", nodeName(M, E.Add)}});
  for (const NormInfo &N : S.EmbeddingNorms)
    EmbeddingNorms.push_back(normJson(M, N));
  for (const NormInfo &N : S.FinalNorms)
    FinalNorms.push_back(normJson(M, N));
  llvm::json::Value Head = nullptr;
  if (S.Head != NoId)
    Head = llvm::json::Object{{"node", nodeName(M, S.Head)},
                              {"weight", valueName(M, S.HeadWeight)},
                              {"bias", valueName(M, S.HeadBias)}};
  return llvm::json::Object{
      {"embeddings", std::move(Embeddings)},
      {"embedding_norms", std::move(EmbeddingNorms)},
      {"final_norms", std::move(FinalNorms)},
      {"head", std::move(Head)},
      {"prologue_nodes", static_cast<int64_t>(S.Prologue.size())},
      {"epilogue_nodes", static_cast<int64_t>(S.Epilogue.size())},
      {"unassigned", nodeNames(M, S.Unassigned)},
  };
}

static std::string scaleText(const AttentionInfo &A) {
  if (!A.ScaleKnown)
    return "?";
  char Buf[32];
  snprintf(Buf, sizeof Buf, "%.6g", A.Scale);
  std::string T = Buf;
  if (std::fabs(A.Scale - 1) <= 1e-6)
    return T + " (unscaled)";
  if (A.HeadDim > 0 &&
      std::fabs(A.Scale * std::sqrt(static_cast<double>(A.HeadDim)) - 1) < 1e-4)
    return T + " (1/sqrt(d))";
  return T;
}

void gradlint::printStructureText(llvm::raw_ostream &OS, const Model &M,
                                  const ModelStructure &S) {
  const Graph &G = M.G;
  OS << "\nstructure:\n";
  if (!S.Embeddings.empty()) {
    OS << "  embeddings  ";
    for (size_t I = 0; I < S.Embeddings.size(); ++I)
      OS << (I ? ", " : "") << G.Values[S.Embeddings[I].Table].Name
         << (S.Embeddings[I].Positional ? " (position)" : " (token)");
    OS << "\n";
  }
  auto PrintNorm = [&](llvm::StringRef Title, const NormInfo &N) {
    OS << "  " << Title << "  " << normKindName(N.Kind) << " "
       << G.Nodes[N.Nodes.back()].Name << ", eps "
       << llvm::format("%g", N.Epsilon) << "\n";
  };
  for (const NormInfo &N : S.EmbeddingNorms)
    PrintNorm("embed norm", N);
  OS << "  blocks      " << S.Blocks.size() << "\n";
  if (!S.Blocks.empty()) {
    OS << "  block  norm  heads  head dim  scale                 mask     ffn         "
          "residual\n";
    for (const BlockInfo &B : S.Blocks) {
      const AttentionInfo &A = *B.Attention;
      std::string Heads = A.Heads ? std::to_string(A.Heads) : "?";
      if (A.KvHeads && A.KvHeads != A.Heads)
        Heads += "/" + std::to_string(A.KvHeads);
      std::string Dim = A.HeadDim ? std::to_string(A.HeadDim) : "?";
      std::string Residual = B.Residuals.empty() ? "no"
                             : B.Residuals.size() == sublayers(B) ? "yes"
                                                                   : "partial";
      OS << llvm::format("  %5u  %-4s  %5s  %8s  %-20s  %-7s  %-10s  %s\n",
                         B.Index, normPlacementName(B.Norm).str().c_str(),
                         Heads.c_str(), Dim.c_str(), scaleText(A).c_str(),
                         maskKindName(A.Mask).str().c_str(),
                         B.Ffn ? B.Ffn->Activation.c_str() : "-",
                         Residual.c_str());
      if (const auto &C = B.CrossAttention)
        OS << "         cross-attention: " << (C->Heads ? std::to_string(C->Heads) : "?")
           << " heads, scale " << scaleText(*C) << ", mask " << maskKindName(C->Mask)
           << "\n";
    }
  }
  for (const NormInfo &N : S.FinalNorms)
    PrintNorm("final norm", N);
  if (S.Head != NoId)
    OS << "  head        " << G.Nodes[S.Head].Name << " ("
       << G.Values[S.HeadWeight].Name << ")\n";
  OS << "  unassigned  " << S.Unassigned.size() << " nodes\n";
  unsigned Shown = 0;
  for (NodeId N : S.Unassigned) {
    if (Shown++ == 10) {
      OS << "    ...\n";
      break;
    }
    OS << "    " << G.Nodes[N].Name << " (" << G.Nodes[N].OpType << ")\n";
  }
}
