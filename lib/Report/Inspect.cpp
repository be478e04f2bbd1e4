//===- Inspect.cpp - describe a model -------------------------------------===//
#include "gradlint/Report/Inspect.h"
#include "llvm/Support/Format.h"
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
                                         const ShapeReport &Shapes) {
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
  return llvm::json::Object{
      {"schema", "gradlint.inspect/1"},
      {"model", std::move(Model)},
      {"defaulted_dims", std::move(Defaulted)},
      {"inputs", valueList(M, M.G.Inputs)},
      {"outputs", valueList(M, M.G.Outputs)},
      {"ops", std::move(Ops)},
      {"unknown_ops", std::move(Unknown)},
      {"unknown_shapes", std::move(UnknownShapes)},
  };
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
                                const ShapeReport &Shapes) {
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
}
