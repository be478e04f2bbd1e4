//===- RuleSupport.cpp - helpers the rules share --------------------------===//
#include "RuleSupport.h"
#include "llvm/ADT/StringExtras.h"
#include <cmath>

using namespace gradlint;

std::string gradlint::formatNumber(double V) {
  if (std::isnan(V))
    return "nan";
  if (std::isinf(V))
    return V > 0 ? "inf" : "-inf";
  if (V == 0)
    return "0";
  double A = std::fabs(V);
  char Buf[64];
  if (A >= 1e-3 && A < 1e3) {
    snprintf(Buf, sizeof Buf, "%.3g", V);
    return Buf;
  }
  if (A >= 1e3 && A < 1e6) {
    snprintf(Buf, sizeof Buf, "%.0f", V);
    return Buf;
  }
  // "3.1e-06" -> "3.1e-6": compilers' and papers' style.
  snprintf(Buf, sizeof Buf, "%.1e", V);
  std::string S = Buf;
  size_t E = S.find('e');
  std::string Mantissa = S.substr(0, E);
  if (llvm::StringRef(Mantissa).endswith(".0"))
    Mantissa.resize(Mantissa.size() - 2);
  llvm::StringRef Exp = llvm::StringRef(S).substr(E + 1);
  bool Negative = Exp.consume_front("-");
  Exp.consume_front("+");
  Exp = Exp.ltrim('0');
  return Mantissa + "e" + (Negative ? "-" : "") + Exp.str();
}

std::string gradlint::formatPercent(double Share) {
  double P = Share * 100;
  char Buf[32];
  if (P >= 1 || P == 0)
    snprintf(Buf, sizeof Buf, "%.0f%%", P);
  else if (P >= 0.1)
    snprintf(Buf, sizeof Buf, "%.1f%%", P);
  else
    snprintf(Buf, sizeof Buf, "<0.1%%");
  return Buf;
}

std::string gradlint::formatBlocks(llvm::ArrayRef<unsigned> Blocks) {
  if (Blocks.empty())
    return "no block";
  if (Blocks.size() == 1)
    return "block " + std::to_string(Blocks[0]);
  bool Contiguous = true;
  for (size_t I = 1; I < Blocks.size(); ++I)
    Contiguous &= Blocks[I] == Blocks[I - 1] + 1;
  if (Contiguous)
    return "blocks " + std::to_string(Blocks.front()) + "-" +
           std::to_string(Blocks.back());
  std::string Out = "blocks ";
  for (size_t I = 0; I < Blocks.size(); ++I) {
    if (I)
      Out += I + 1 == Blocks.size() ? " and " : ", ";
    Out += std::to_string(Blocks[I]);
  }
  return Out;
}

double gradlint::normalCdf(double Z) {
  return 0.5 * std::erfc(-Z / std::sqrt(2.0));
}

double gradlint::tailShare(const ValueSummary &S, double T) {
  if (!hasMoments(S))
    return 0;
  double Sum = 0;
  for (size_t J = 0; J < S.Var.size(); ++J) {
    double Mu = S.Mean[J], Sd = std::sqrt(std::max(0.0, S.Var[J]));
    if (Sd == 0)
      Sum += std::fabs(Mu) >= T;
    else
      Sum += normalCdf((-T - Mu) / Sd) + normalCdf((Mu - T) / Sd);
  }
  return Sum / S.Var.size();
}

double gradlint::nonPositiveShare(const ValueSummary &S) {
  if (!hasMoments(S))
    return 0;
  double Sum = 0;
  for (size_t J = 0; J < S.Var.size(); ++J) {
    double Mu = S.Mean[J], Sd = std::sqrt(std::max(0.0, S.Var[J]));
    Sum += Sd == 0 ? (Mu <= 0) : normalCdf(-Mu / Sd);
  }
  return Sum / S.Var.size();
}

double gradlint::gaussianMean(const ValueSummary &S,
                              const std::function<double(double)> &F,
                              double Support) {
  if (!hasMoments(S))
    return 0;
  // Simpson's rule over x in [mean - 8 sd, mean + 8 sd] ∩ [-Support, Support]
  // (beyond 8 sd the Gaussian holds < 1e-15, beyond Support F is negligible),
  // with steps fine against both the Gaussian and F.
  double Sum = 0;
  for (size_t J = 0; J < S.Var.size(); ++J) {
    double Mu = S.Mean[J], Sd = std::sqrt(std::max(0.0, S.Var[J]));
    if (Sd == 0) {
      Sum += F(Mu);
      continue;
    }
    double Lo = std::max(Mu - 8 * Sd, -Support),
           Hi = std::min(Mu + 8 * Sd, Support);
    if (Lo >= Hi)
      continue;
    double Step = std::min(Sd / 25, 0.02);
    int Intervals = std::max(2, int(std::ceil((Hi - Lo) / Step / 2)) * 2);
    double H = (Hi - Lo) / Intervals, Acc = 0;
    for (int I = 0; I <= Intervals; ++I) {
      double X = Lo + I * H, Z = (X - Mu) / Sd;
      double W = (I == 0 || I == Intervals) ? 1 : (I % 2 ? 4 : 2);
      Acc += W * F(X) * std::exp(-0.5 * Z * Z);
    }
    Sum += Acc * H / 3 / (Sd * std::sqrt(2 * M_PI));
  }
  return Sum / S.Var.size();
}

double gradlint::meanSquare(const ValueSummary &S) {
  if (!hasMoments(S))
    return 0;
  double Sum = 0;
  for (size_t J = 0; J < S.Var.size(); ++J)
    Sum += S.Mean[J] * S.Mean[J] + S.Var[J];
  return Sum / S.Var.size();
}

std::vector<ParamView> gradlint::parameterViews(const RuleContext &C) {
  std::vector<ParamView> Out;
  for (const ParameterPrediction &P : C.A.Parameters) {
    ParamView V;
    V.P = &P;
    V.Role = C.S.roleOf(C.M, P.Name);
    uint64_t N = 1;
    V.Elements = numElements(P.Shape, N) ? N : 0;
    Out.push_back(std::move(V));
  }
  return Out;
}

std::string gradlint::describe(const ParamView &V) {
  if (V.Role.Phrase.empty())
    return "parameter '" + V.P->Name + "'";
  return V.Role.Phrase + " '" + V.P->Name + "'";
}

std::string gradlint::nodeName(const Model &M, NodeId N) {
  return N == NoId || N >= M.G.Nodes.size() ? "" : M.G.Nodes[N].Name;
}

/// Follows V through Identity nodes (torch's deduplicated initializers).
static ValueId throughIdentity(const Graph &G, ValueId V, bool Forward) {
  for (unsigned Depth = 0; Depth < 4 && V != NoId; ++Depth) {
    if (Forward) {
      const Value &Val = G.Values[V];
      if (Val.Users.size() != 1 ||
          G.Nodes[Val.Users[0]].Kind != OpKind::Identity)
        return V;
      V = G.Nodes[Val.Users[0]].Outputs[0];
    } else {
      NodeId P = G.Values[V].Producer;
      if (P == NoId || G.Nodes[P].Kind != OpKind::Identity)
        return V;
      V = G.Nodes[P].input(0);
    }
  }
  return V;
}

std::optional<LinearFans> gradlint::linearFans(const Graph &G, ValueId W) {
  const TensorData *T = G.initializer(W);
  if (!T || T->Shape.size() != 2)
    return std::nullopt;
  ValueId Use = throughIdentity(G, W, /*Forward=*/true);
  for (NodeId U : G.Values[Use].Users) {
    const Node &N = G.Nodes[U];
    bool Transposed = false;
    const Node *Product = &N;
    NodeId ProductId = U;
    if (N.Kind == OpKind::Transpose) {
      llvm::ArrayRef<int64_t> Perm = N.getInts("perm");
      if (!(Perm.empty() ||
            (Perm.size() == 2 && Perm[0] == 1 && Perm[1] == 0)) ||
          N.Outputs.empty() || N.Outputs[0] == NoId ||
          G.Values[N.Outputs[0]].Users.size() != 1)
        continue;
      Transposed = true;
      ProductId = G.Values[N.Outputs[0]].Users[0];
      Product = &G.Nodes[ProductId];
      if (Product->input(1) != N.Outputs[0])
        continue;
    } else if (N.input(1) != Use) {
      continue;
    }
    if (Product->Kind == OpKind::Gemm)
      Transposed ^= Product->getInt("transB", 0) != 0;
    else if (Product->Kind != OpKind::MatMul)
      continue;
    LinearFans F;
    F.FanIn = Transposed ? T->Shape[1] : T->Shape[0];
    F.FanOut = Transposed ? T->Shape[0] : T->Shape[1];
    F.Product = ProductId;
    return F;
  }
  return std::nullopt;
}

ValueId gradlint::producingWeight(const Graph &G, ValueId V) {
  if (V == NoId)
    return NoId;
  NodeId P = G.Values[V].Producer;
  if (P == NoId)
    return NoId;
  const Node *N = &G.Nodes[P];
  if (N->Kind == OpKind::Add) {
    // x W + b: step over the bias.
    for (unsigned I = 0; I < 2; ++I) {
      ValueId Bias = throughIdentity(G, N->input(1 - I), false);
      const TensorData *B = G.initializer(Bias);
      if (!B || B->Shape.size() > 1)
        continue;
      NodeId Q = G.Values[N->input(I)].Producer;
      if (Q == NoId)
        return NoId;
      N = &G.Nodes[Q];
      break;
    }
  }
  if (N->Kind != OpKind::MatMul && N->Kind != OpKind::Gemm)
    return NoId;
  ValueId W = N->input(1);
  if (W == NoId)
    return NoId;
  if (NodeId T = G.Values[W].Producer;
      T != NoId && G.Nodes[T].Kind == OpKind::Transpose)
    W = G.Nodes[T].input(0);
  W = throughIdentity(G, W, false);
  const TensorData *T = G.initializer(W);
  return T && T->Shape.size() == 2 ? W : NoId;
}

ValueId gradlint::blockInput(const BlockInfo &B) {
  if (!B.Residuals.empty() && B.Residuals.front().Skip != NoId)
    return B.Residuals.front().Skip;
  if (B.Norm == NormPlacement::Pre && !B.Norms.empty())
    return B.Norms.front().Input;
  if (B.Attention)
    return B.Attention->Input;
  if (B.Ffn)
    return B.Ffn->Input;
  return NoId;
}

ValueId gradlint::blockOutput(const BlockInfo &B) {
  if (B.Norm == NormPlacement::Post && !B.Norms.empty())
    return B.Norms.back().Output;
  if (!B.Residuals.empty() && B.Residuals.back().Output != NoId)
    return B.Residuals.back().Output;
  if (B.Ffn)
    return B.Ffn->Output;
  if (B.Attention)
    return B.Attention->Output;
  return NoId;
}

double gradlint::gradEst(const AnalysisResult &A, ValueId V) {
  if (V == NoId || V >= A.Backward.size() || !A.Backward[V].Reached)
    return 0;
  return A.Backward[V].Norm.Est;
}

Finding gradlint::makeFinding(Severity Level, std::string Message) {
  Finding F;
  F.Level = Level;
  F.Message = std::move(Message);
  return F;
}

void gradlint::addEvidence(Finding &F, llvm::StringRef Key, double V) {
  if (std::isfinite(V))
    F.Evidence[Key] = V;
  else
    F.Evidence[Key] = nullptr;
}
