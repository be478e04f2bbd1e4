//===- Reference.cpp - the reference loss and inputs ----------------------===//
#include "gradlint/Reference/Reference.h"
#include "gradlint/Support/Error.h"

using namespace gradlint;

llvm::StringRef gradlint::lossName(LossKind K) {
  switch (K) {
  case LossKind::CrossEntropy: return "ce";
  case LossKind::Projection: return "projection";
  }
  return "projection";
}

llvm::Expected<LossKind> gradlint::parseLossName(llvm::StringRef S) {
  if (S == "ce")
    return LossKind::CrossEntropy;
  if (S == "projection")
    return LossKind::Projection;
  return makeError("--loss must be ce or projection, got '" + S + "'");
}

/// Rows of the table that integer input V indexes: follows V through
/// shape-preserving ops to the indices operand of a Gather on an initializer.
static int64_t gatherTableRows(const Graph &G, ValueId V, unsigned Depth = 0) {
  if (Depth > 8)
    return 0;
  int64_t Rows = 0;
  for (NodeId U : G.Values[V].Users) {
    const Node &N = G.Nodes[U];
    switch (N.Kind) {
    case OpKind::Gather:
      if (N.input(1) == V && N.getInt("axis", 0) == 0)
        if (const TensorData *T = G.initializer(N.input(0)); T && !T->Shape.empty())
          Rows = std::max(Rows, T->Shape[0]);
      break;
    case OpKind::Cast:
    case OpKind::Reshape:
    case OpKind::Unsqueeze:
    case OpKind::Squeeze:
    case OpKind::Flatten:
    case OpKind::Identity:
      if (N.input(0) == V && N.Outputs[0] != NoId)
        Rows = std::max(Rows, gatherTableRows(G, N.Outputs[0], Depth + 1));
      break;
    default:
      break;
    }
  }
  return Rows;
}

llvm::Expected<ReferenceSetup> gradlint::referenceSetup(const Model &M,
                                                        const LossKind *Forced) {
  const Graph &G = M.G;
  ReferenceSetup R;
  if (G.Outputs.empty())
    return fileError(M.Info.Path, "has no graph output to take a loss of");
  R.Output = G.Outputs[0];
  const Value &Out = G.Values[R.Output];
  if (!Out.HasShape || Out.Shape.empty())
    return fileError(M.Info.Path, "first output '" + Out.Name +
                                      "' has no known shape of rank >= 1; "
                                      "gradlint cannot form the reference loss");
  if (!isFloatingPoint(Out.Type))
    return fileError(M.Info.Path, "first output '" + Out.Name +
                                      "' is not floating point (" +
                                      dataTypeName(Out.Type) + ")");
  R.Vocab = Out.Shape.back();
  R.Rows = 1;
  for (size_t I = 0; I + 1 < Out.Shape.size(); ++I)
    R.Rows *= Out.Shape[I];
  int64_t MaxTable = 0;
  for (ValueId In : G.Inputs) {
    InputSpec S;
    S.Value = In;
    const Value &V = G.Values[In];
    if (isInteger(V.Type)) {
      S.Range = gatherTableRows(G, In);
      S.TokenIds = S.Range > 0;
      S.ZeroFill = !S.TokenIds;
      MaxTable = std::max(MaxTable, S.Range);
    } else if (!isFloatingPoint(V.Type)) {
      return fileError(M.Info.Path, "input '" + V.Name + "' has type " +
                                        dataTypeName(V.Type) +
                                        ", which gradlint cannot draw");
    }
    R.Inputs.push_back(S);
  }
  bool TakesTokens = MaxTable > 0;
  R.Loss = TakesTokens && R.Vocab >= MaxTable && Out.Shape.size() >= 2
               ? LossKind::CrossEntropy
               : LossKind::Projection;
  if (Forced)
    R.Loss = *Forced;
  if (R.Loss == LossKind::CrossEntropy && R.Vocab < 2)
    return fileError(M.Info.Path, "cross-entropy needs a vocabulary of at least "
                                  "2 in the first output's last dimension");
  return R;
}

Rng gradlint::streamRng(uint64_t Seed, Stream S, uint64_t Index) {
  // Distinct odd multipliers keep streams apart for nearby seeds.
  return Rng(Seed * 0x9e3779b97f4a7c15ull ^ (static_cast<uint64_t>(S) << 56) ^
             (Index * 0xd1b54a32d192ed03ull));
}
