//===- Analysis.cpp - forward summaries, backward bounds, predictions -----===//
//
// The driver: summaries flow forward in topological order from the input
// distributions and the real initializer values; gradient energies flow
// backward from the reference loss; each parameter's prediction follows
// from its gradient energy. docs/analysis.md derives the rules.
//
//===----------------------------------------------------------------------===//
#include "Analyzer.h"
#include "gradlint/Structure/SubParameters.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/ThreadPool.h"
#include <algorithm>
#include <set>

using namespace gradlint;
using namespace gradlint::analysis;

double ValueSummary::meanSquare() const {
  if (Mean.empty())
    return 0;
  double S = 0;
  for (size_t F = 0; F != Mean.size(); ++F)
    S += Var[F] + Mean[F] * Mean[F];
  return S / Mean.size();
}

Analyzer::Analyzer(const Model &M, const AnalysisOptions &O)
    : M(M), G(M.G), Opts(O) {}

ValueSummary Analyzer::blank(ValueId V) const {
  ValueSummary S;
  const Value &Val = G.Values[V];
  S.Features = Val.Shape.empty() ? 1 : Val.Shape.back();
  S.Rows = 1;
  for (size_t I = 0; I + 1 < Val.Shape.size(); ++I)
    S.Rows *= Val.Shape[I];
  S.Mean.assign(S.Features, 0.0);
  S.Var.assign(S.Features, 0.0);
  return S;
}

double Analyzer::pooledMean(const ValueSummary &S) {
  double Sum = 0;
  for (double M : S.Mean)
    Sum += M;
  return S.Mean.empty() ? 0 : Sum / S.Mean.size();
}

double Analyzer::pooledM2(const ValueSummary &S) { return S.meanSquare(); }

double Analyzer::sumVar(const ValueSummary &S) {
  double Sum = 0;
  for (double V : S.Var)
    Sum += V;
  return Sum;
}

double Analyzer::sumRowVar(const FwdState &F) {
  if (F.SequenceVar.empty())
    return sumVar(F.S) * (1 - F.S.SequenceShared);
  double Sum = 0;
  for (double V : F.SequenceVar)
    Sum += V;
  return Sum;
}

double Analyzer::sumMean2(const ValueSummary &S) {
  double Sum = 0;
  for (double M : S.Mean)
    Sum += M * M;
  return Sum;
}

void Analyzer::setFwd(ValueId V, ValueSummary S, std::shared_ptr<const Table> T,
                      std::shared_ptr<const MaskInfo> Mask) {
  if (V == NoId)
    return;
  F[V].Known = true;
  F[V].S = std::move(S);
  F[V].S.SequenceShared = 0; // rules that know it set it after
  F[V].T = std::move(T);
  F[V].Mask = std::move(Mask);
  F[V].SequenceVar.clear();
  F[V].Pos.reset();
}

void Analyzer::setShared(ValueId V, double Rho) {
  if (V != NoId && F[V].Known)
    F[V].S.SequenceShared = std::isfinite(Rho) ? std::clamp(Rho, 0.0, 1.0) : 0.0;
}

std::shared_ptr<const PositionMeans> Analyzer::positions(ValueId V) const {
  if (V == NoId)
    return nullptr;
  if (F[V].Pos)
    return F[V].Pos;
  // A constant laid out [1.., T, F]: its rows are the positions (read once;
  // a T×T mask is a large constant that is not one).
  auto [It, New] = ConstantPositions.try_emplace(V, nullptr);
  if (New)
    It->second = constantPositions(V);
  return It->second;
}

std::shared_ptr<const PositionMeans> Analyzer::constantPositions(ValueId V) const {
  const Value &Val = G.Values[V];
  if (!Val.HasShape || Val.Shape.size() < 2)
    return nullptr;
  int64_t T = Val.Shape[Val.Shape.size() - 2], Fe = Val.Shape.back();
  for (size_t I = 0; I + 2 < Val.Shape.size(); ++I)
    if (Val.Shape[I] != 1)
      return nullptr;
  std::vector<double> Data;
  if (const TensorData *Init = G.initializer(V))
    Init->toDoubles(Data);
  else if (Val.Const)
    Data = Val.Const->Reals;
  if (T < 2 || int64_t(Data.size()) != T * Fe ||
      llvm::any_of(Data, [](double X) { return !std::isfinite(X) || std::fabs(X) >= 1e4; }))
    return nullptr; // not a table of positions: a mask
  auto P = std::make_shared<PositionMeans>();
  P->T = T, P->F = Fe, P->R = PositionMeans::rowsFor(T);
  P->D.resize(P->R * Fe);
  for (int64_t Fi = 0; Fi < Fe; ++Fi) {
    double M = 0;
    for (int64_t Ti = 0; Ti < T; ++Ti)
      M += Data[Ti * Fe + Fi] / T;
    for (int64_t Row = 0; Row < P->R; ++Row)
      P->D[Row * Fe + Fi] = Data[PositionMeans::positionOf(Row, T) * Fe + Fi] - M;
  }
  return P;
}

void Analyzer::setPositions(ValueId V, std::vector<double> D, std::vector<double> Scale) {
  const Value &Val = G.Values[V];
  if (!F[V].Known || Val.Shape.size() < 2)
    return;
  int64_t T = Val.Shape[Val.Shape.size() - 2], Fe = Val.Shape.back();
  int64_t R = PositionMeans::rowsFor(T);
  if (int64_t(Scale.size()) != R ||
      llvm::all_of(Scale, [](double S) { return std::fabs(S - 1) < 1e-9; }))
    Scale.clear();
  if (T < 2 || int64_t(D.size()) != R * Fe ||
      (Scale.empty() && llvm::all_of(D, [](double X) { return X == 0; })))
    return;
  auto P = std::make_shared<PositionMeans>();
  P->T = T, P->F = Fe, P->R = R;
  P->D = std::move(D);
  P->Scale = std::move(Scale);
  F[V].Pos = std::move(P);
}

const Calibration::SoftmaxRows *Analyzer::calibratedSoftmax(ValueId V) const {
  if (!Opts.Calibrated)
    return nullptr;
  auto It = Opts.Calibrated->Softmax.find(V);
  return It == Opts.Calibrated->Softmax.end() ? nullptr : &It->second;
}

void Analyzer::calibrate(const Node &N) {
  if (!Opts.Calibrated)
    return;
  for (ValueId Out : N.Outputs) {
    if (Out == NoId || !F[Out].Known)
      continue;
    auto It = Opts.Calibrated->Values.find(Out);
    if (It == Opts.Calibrated->Values.end())
      continue;
    const ValueSummary &C = It->second;
    ValueSummary &S = F[Out].S;
    if (C.Features != S.Features || C.Rows != S.Rows)
      continue; // measured at another shape: keep the static summary
    S.Mean = C.Mean;
    S.Var = C.Var;
    S.Min = C.Min;
    S.Max = C.Max;
    auto Seq = Opts.Calibrated->SequenceVar.find(Out);
    if (Seq != Opts.Calibrated->SequenceVar.end() &&
        int64_t(Seq->second.size()) == S.Features)
      F[Out].SequenceVar = Seq->second;
    ++CalibratedValues;
  }
}

void GradState::setPos(std::vector<double> E, int64_t T) {
  double Mean = 0;
  for (double X : E)
    Mean += X / E.size();
  Pos.clear();
  PosT = 0;
  if (E.empty() || !(Mean > 0) || int64_t(E.size()) != PositionMeans::rowsFor(T) ||
      llvm::all_of(E, [&](double X) { return std::fabs(X - Mean) <= 1e-9 * Mean; }))
    return;
  for (double &X : E)
    X /= Mean;
  Pos = std::move(E);
  PosT = T;
}

void GradState::setPosAt(const std::vector<double> &PerPosition) {
  int64_t T = PerPosition.size(), R = PositionMeans::rowsFor(T);
  std::vector<double> E(R, 0.0), Count(R, 0.0);
  for (int64_t P = 0; P < T; ++P) {
    E[PositionMeans::rowOf(P, T)] += PerPosition[P];
    ++Count[PositionMeans::rowOf(P, T)];
  }
  for (int64_t Row = 0; Row < R; ++Row)
    E[Row] /= std::max(1.0, Count[Row]);
  setPos(std::move(E), T);
}

const GradState *Analyzer::contextGrad(const AttentionInfo &Att) const {
  if (Att.Out == NoId)
    return nullptr;
  ValueId Ctx = G.Nodes[Att.Out].input(0);
  return Ctx != NoId && B[Ctx].Reached ? &B[Ctx] : nullptr;
}

void Analyzer::addGrad(ValueId V, const GradState &Contribution) {
  if (V == NoId || !Contribution.Reached || !Differentiable[V])
    return;
  GradState C = Contribution;
  if (auto It = PendingPos.find(V); It != PendingPos.end() && C.Pos.empty())
    C.setPos(It->second.first, It->second.second);
  // A profile belongs to axis −2 of PosT positions.
  const Dims &Shape = G.Values[V].Shape;
  if (!C.Pos.empty() && (Shape.size() < 2 || Shape[Shape.size() - 2] != C.PosT))
    C.setPos({}, 0);
  GradState &D = B[V];
  double E0 = D.energy(), E1 = C.energy();
  double E = E0 + E1;
  if ((!D.Pos.empty() || !C.Pos.empty()) && E > 0) { // energy-weighted, flat where unknown
    int64_t T = D.Pos.empty() ? C.PosT : D.PosT;
    std::vector<double> Mix; // none when the two profiles' positions differ
    if (D.Pos.empty() || C.Pos.empty() || D.PosT == C.PosT) {
      Mix.resize(PositionMeans::rowsFor(T));
      for (size_t R = 0; R != Mix.size(); ++R)
        Mix[R] = E0 * D.pos(R) + E1 * C.pos(R);
    }
    D.setPos(std::move(Mix), T);
  }
  if (E > 0) {
    D.Sigma2 = (E0 * D.Sigma2 + E1 * C.Sigma2) / E;
    D.OnesFree = (E0 * D.OnesFree + E1 * C.OnesFree) / E;
  } else if (!D.Reached) {
    D.Sigma2 = C.Sigma2;
    D.OnesFree = C.OnesFree;
  }
  D.ZeroRowSum = D.Reached ? D.ZeroRowSum && C.ZeroRowSum : C.ZeroRowSum;
  D.Coherent += C.Coherent;
  D.Varying += C.Varying;
  D.Lip += C.Lip;
  D.Unbounded |= C.Unbounded;
  D.Reached = true;
}

GradState Analyzer::scaled(const GradState &G, double EnergyFactor, double Tau,
                           double LipFactor) {
  GradState C = G;
  C.Coherent *= EnergyFactor;
  C.Varying *= EnergyFactor;
  C.Sigma2 += Tau * Tau;
  C.Lip *= LipFactor;
  C.OnesFree = 0;
  C.ZeroRowSum = false;
  return C;
}

/// Per-feature summary of a tensor's values (row-major, last axis = features).
static ValueSummary summarizeData(const std::vector<double> &D,
                                  llvm::ArrayRef<int64_t> Shape) {
  ValueSummary S;
  S.Features = Shape.empty() ? 1 : std::max<int64_t>(1, Shape.back());
  S.Rows = Shape.empty() ? 1 : static_cast<int64_t>(D.size()) / S.Features;
  S.Mean.assign(S.Features, 0.0);
  S.Var.assign(S.Features, 0.0);
  if (D.empty() || S.Rows == 0) {
    S.Min = S.Max = 0;
    return S;
  }
  S.Min = Infinity;
  S.Max = -Infinity;
  for (int64_t R = 0; R < S.Rows; ++R)
    for (int64_t F = 0; F < S.Features; ++F) {
      double X = D[R * S.Features + F];
      S.Mean[F] += X;
      S.Min = std::min(S.Min, X);
      S.Max = std::max(S.Max, X);
    }
  for (double &M : S.Mean)
    M /= S.Rows;
  for (int64_t R = 0; R < S.Rows; ++R)
    for (int64_t F = 0; F < S.Features; ++F) {
      double X = D[R * S.Features + F] - S.Mean[F];
      S.Var[F] += X * X;
    }
  for (double &V : S.Var)
    V /= S.Rows;
  return S;
}

namespace {

/// Whether a value carries float data the analysis summarises.
bool isFloatValue(const Value &V) {
  return V.HasShape && isFloatingPoint(V.Type);
}

/// Dispatches a node to its family's forward rule.
bool forwardRule(Analyzer &A, NodeId Id, const Node &N) {
  switch (familyOf(N.Kind)) {
  case OpFamily::Binary:
  case OpFamily::Unary:
  case OpFamily::Select:
    return forwardElementwise(A, N);
  case OpFamily::Linear:
    return forwardLinear(A, N);
  case OpFamily::Softmax:
    return forwardSoftmax(A, Id, N);
  case OpFamily::Normalization:
    return forwardNormalization(A, Id, N);
  case OpFamily::Reduction:
  case OpFamily::Movement:
  case OpFamily::Gather:
    return forwardMovement(A, N);
  case OpFamily::Compare:
  case OpFamily::Source:
    return true; // integer or constant outputs: summarised from Const
  case OpFamily::Attention:
  case OpFamily::Loss:
  case OpFamily::Unknown:
    return false;
  }
  return false;
}

bool backwardRule(Analyzer &A, NodeId Id, const Node &N) {
  switch (familyOf(N.Kind)) {
  case OpFamily::Binary:
  case OpFamily::Unary:
  case OpFamily::Select:
    return backwardElementwise(A, N);
  case OpFamily::Linear:
    return backwardLinear(A, N);
  case OpFamily::Softmax:
    return backwardSoftmax(A, Id, N);
  case OpFamily::Normalization:
    return backwardNormalization(A, Id, N);
  case OpFamily::Reduction:
  case OpFamily::Movement:
  case OpFamily::Gather:
    return backwardMovement(A, N);
  case OpFamily::Compare:
  case OpFamily::Source:
    return true; // no gradient flows into shapes and constants
  case OpFamily::Attention:
  case OpFamily::Loss:
  case OpFamily::Unknown:
    return false;
  }
  return false;
}

/// The ValueId holding block [Begin, End) of a split projection output.
ValueId blockValue(const Graph &G, const SubParameter &S) {
  const Node &P = G.Nodes[S.Product];
  ValueId Z = P.Outputs[0];
  // Through the bias Add that SubParameters also looks through.
  if (G.Values[Z].Users.size() == 1) {
    const Node &U = G.Nodes[G.Values[Z].Users[0]];
    if (U.Kind == OpKind::Add && !U.Outputs.empty())
      Z = U.Outputs[0];
  }
  for (NodeId U : G.Values[Z].Users) {
    const Node &N = G.Nodes[U];
    if (N.Kind == OpKind::Split) {
      int64_t At = 0;
      for (ValueId Out : N.Outputs) {
        if (Out == NoId)
          continue;
        if (At == S.Begin)
          return Out;
        At += G.Values[Out].Shape.back();
      }
    }
    if (N.Kind == OpKind::Slice && !N.Outputs.empty()) {
      auto C = G.Values[N.input(1)].Const;
      if (C && C->size() == 1) {
        int64_t B = C->integer(0);
        if (B < 0)
          B += G.Values[Z].Shape.back();
        if (B == S.Begin)
          return N.Outputs[0];
      }
    }
  }
  return NoId;
}

} // namespace

llvm::Expected<AnalysisResult> Analyzer::run() {
  auto Ref = referenceSetup(M, Opts.ForcedLoss);
  if (!Ref)
    return Ref.takeError();
  Setup = *Ref;
  Structure = recoverStructure(M);
  SkipBackward.assign(G.Nodes.size(), false);
  auto NoteNorm = [&](const NormInfo &Norm) {
    if (!Norm.Decomposed || Norm.Output == NoId || Norm.Input == NoId)
      return;
    NodeId Producer = G.Values[Norm.Output].Producer;
    if (Producer == NoId)
      return;
    DecomposedNormAt[Producer] = &Norm;
    for (NodeId N : Norm.Nodes)
      if (N != Producer)
        SkipBackward[N] = true;
  };
  for (const BlockInfo &Bl : Structure.Blocks) {
    for (const NormInfo &Norm : Bl.Norms)
      NoteNorm(Norm);
    if (Bl.Attention && Bl.Attention->Softmax != NoId)
      SoftmaxMask[Bl.Attention->Softmax] = Bl.Attention->Mask;
    if (Bl.Attention && Bl.Attention->Out != NoId && Bl.Attention->Fused == NoId)
    {
      AttentionAtOut[Bl.Attention->Out] = &*Bl.Attention;
      if (Bl.Attention->Context != NoId)
        AttentionAtContext[Bl.Attention->Context] = &*Bl.Attention;
    }
  }
  for (const NormInfo &Norm : Structure.FinalNorms)
    NoteNorm(Norm);
  for (const NormInfo &Norm : Structure.EmbeddingNorms)
    NoteNorm(Norm);
  F.assign(G.Values.size(), FwdState());
  B.assign(G.Values.size(), GradState());
  Differentiable.assign(G.Values.size(), false);
  for (ValueId V = 0; V != G.Values.size(); ++V) {
    const Value &Val = G.Values[V];
    Differentiable[V] = isFloatValue(Val) && (Val.IsInput || Val.Initializer >= 0);
    // A float buffer holding -inf or huge fills is an attention mask that an
    // exporter kept as an initializer, not a trainable parameter.
    if (Differentiable[V] && Val.Initializer >= 0) {
      std::vector<float> Data;
      if (G.Tensors[Val.Initializer].toFloats(Data) &&
          llvm::any_of(Data, [](float X) { return !std::isfinite(X) || std::fabs(X) >= 1e4f; }))
        Differentiable[V] = false;
    }
  }
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    bool Any = llvm::any_of(N.Inputs, [&](ValueId In) {
      return In != NoId && Differentiable[In];
    });
    for (ValueId Out : N.Outputs)
      if (Out != NoId)
        Differentiable[Out] = Any && isFloatValue(G.Values[Out]);
  }
  Facts.assign(G.Nodes.size(), NodeFacts());
  for (NodeId I = 0; I != G.Nodes.size(); ++I)
    Facts[I].Node = I;

  // Sources: graph inputs per DESIGN §3, initializers and folded constants
  // from their real values.
  for (ValueId V : G.Inputs)
    if (isFloatValue(G.Values[V])) {
      ValueSummary S = blank(V);
      S.Var.assign(S.Features, 1.0);
      S.Min = -6;
      S.Max = 6;
      setFwd(V, S);
    }
  for (ValueId V = 0; V != G.Values.size(); ++V) {
    const Value &Val = G.Values[V];
    if (!isFloatValue(Val) || F[V].Known)
      continue;
    std::vector<double> Data;
    if (const TensorData *T = G.initializer(V)) {
      if (T->toDoubles(Data))
        setFwd(V, summarizeData(Data, T->Shape));
    } else if (Val.Const) {
      setFwd(V, summarizeData(Val.Const->Reals, Val.Const->Shape));
    }
  }

  // Norms of every 2-D float initializer, in parallel (power iteration).
  WeightFrob2.assign(G.Values.size(), 0.0);
  WeightSpectral.assign(G.Values.size(), 0.0);
  {
    llvm::ThreadPool Pool(llvm::hardware_concurrency(2));
    for (ValueId V : G.Initializers) {
      const TensorData &T = G.Tensors[G.Values[V].Initializer];
      if (!isFloatingPoint(T.Type) || T.NumElements < 2)
        continue;
      Pool.async([&, V] {
        std::vector<float> W;
        if (!T.toFloats(W))
          return;
        double S = 0;
        for (double X : W)
          S += X * X;
        WeightFrob2[V] = S;
        // Spectral norms serve the matrix products' bounds; a table only
        // gathered from (an embedding) needs none.
        bool Multiplied = llvm::any_of(G.Values[V].Users, [&](NodeId U) {
          OpKind K = G.Nodes[U].Kind;
          return K == OpKind::MatMul || K == OpKind::Gemm || K == OpKind::Transpose;
        });
        if (T.Shape.size() == 2 && Multiplied) {
          Rng Rand = streamRng(Opts.Seed, Stream::Analysis, 1000 + V);
          WeightSpectral[V] = spectralNorm(W, T.Shape[0], T.Shape[1], Rand);
        }
      });
    }
    Pool.wait();
  }

  // Forward. Per-position means are dropped after their last reader: the
  // nodes consuming the value, the attention context (V's, at the output
  // projection), a decomposed norm (its input's, at its last node), and the
  // readers of any value tabulated over it (they linearise along the table).
  std::vector<unsigned> PosReaders(G.Values.size(), 0);
  for (NodeId Id : G.Order)
    for (ValueId In : G.Nodes[Id].Inputs)
      if (In != NoId)
        ++PosReaders[In];
  for (const auto &[Out, Att] : AttentionAtOut)
    if (Att->VValue != NoId)
      ++PosReaders[Att->VValue];
  for (const auto &[Producer, Norm] : DecomposedNormAt)
    ++PosReaders[Norm->Input];
  auto ReadPositions = [&](ValueId V) {
    if (V != NoId && PosReaders[V] && --PosReaders[V] == 0)
      F[V].Pos.reset();
  };
  std::set<std::string> UnknownOps;
  unsigned FloatNodes = 0, Covered = 0;
  for (NodeId Id : G.Order) {
    const Node &N = G.Nodes[Id];
    auto Release = llvm::make_scope_exit([&] {
      for (ValueId Out : N.Outputs)
        if (Out != NoId && F[Out].T && F[Out].T->Source != NoId && F[Out].T->Source != Out)
          PosReaders[F[Out].T->Source] += PosReaders[Out];
      for (ValueId In : N.Inputs) {
        if (In == NoId)
          continue;
        if (F[In].T && F[In].T->Source != NoId && F[In].T->Source != In)
          ReadPositions(F[In].T->Source);
        ReadPositions(In);
      }
      if (auto It = AttentionAtOut.find(Id); It != AttentionAtOut.end())
        ReadPositions(It->second->VValue);
      if (auto It = DecomposedNormAt.find(Id); It != DecomposedNormAt.end())
        ReadPositions(It->second->Input);
    });
    bool FloatOut = false, AllKnown = true;
    for (ValueId Out : N.Outputs)
      if (Out != NoId && isFloatValue(G.Values[Out])) {
        FloatOut = true;
        AllKnown &= F[Out].Known;
      }
    if (!FloatOut)
      continue;
    ++FloatNodes;
    if (AllKnown) { // folded: summarised from its value
      ++Covered;
      continue;
    }
    bool Ok = forwardRule(*this, Id, N);
    if (auto It = DecomposedNormAt.find(Id); It != DecomposedNormAt.end())
      forwardDecomposedNorm(*this, Id, *It->second);
    calibrate(N);
    if (Ok) {
      ++Covered;
    } else {
      UnknownOps.insert(N.Domain.empty() ? N.OpType : N.Domain + ":" + N.OpType);
    }
    // Anything a rule left unknown passes its first float input through, or
    // is taken as standard normal.
    for (ValueId Out : N.Outputs) {
      if (Out == NoId || !isFloatValue(G.Values[Out]) || F[Out].Known)
        continue;
      ValueId In = N.input(0);
      if (fwd(In) && G.Values[In].Shape == G.Values[Out].Shape) {
        setFwd(Out, F[In].S);
      } else {
        ValueSummary S = blank(Out);
        S.Var.assign(S.Features, 1.0);
        setFwd(Out, S);
      }
    }
  }
  Unknown.assign(UnknownOps.begin(), UnknownOps.end());

  // Backward from the reference loss.
  seedLoss(*this);
  for (auto It = G.Order.rbegin(); It != G.Order.rend(); ++It) {
    NodeId Id = *It;
    const Node &N = G.Nodes[Id];
    if (SkipBackward[Id])
      continue; // inside a decomposed norm: handled at its output
    bool Reached = false;
    double EOut = 0;
    for (ValueId Out : N.Outputs)
      if (Out != NoId && B[Out].Reached) {
        Reached = true;
        EOut += B[Out].energy();
      }
    if (!Reached)
      continue;
    std::vector<double> EIn;
    for (ValueId In : N.Inputs)
      EIn.push_back(In == NoId ? 0 : B[In].energy());
    if (auto DN = DecomposedNormAt.find(Id); DN != DecomposedNormAt.end()) {
      backwardDecomposedNorm(*this, Id, *DN->second);
    } else if (!backwardRule(*this, Id, N)) {
      // Unknown op: the gradient passes to each float input unchanged in
      // size, with no upper bound.
      for (ValueId In : N.Inputs) {
        if (In == NoId || !isFloatValue(G.Values[In]))
          continue;
        GradState C = B[N.Outputs[0]];
        C.Unbounded = true;
        C.Lip = Infinity;
        C.Sigma2 += 1.0;
        addGrad(In, C);
      }
    }
    double EInAfter = 0;
    for (size_t I = 0; I != N.Inputs.size(); ++I)
      if (N.Inputs[I] != NoId)
        EInAfter += B[N.Inputs[I]].energy() - EIn[I];
    if (EOut > 0)
      Facts[Id].Gain = std::sqrt(EInAfter / EOut);
  }

  // Results.
  AnalysisResult R;
  R.Setup = Setup;
  R.UnknownOps = Unknown;
  R.Coverage = FloatNodes ? double(Covered) / FloatNodes : 1.0;
  if (Opts.Calibrated) {
    R.CalibrationPasses = Opts.Calibrated->Passes;
    R.CalibratedValues = CalibratedValues;
    R.CalibratedSoftmax = CalibratedSoftmax;
  }
  R.Forward.resize(G.Values.size());
  R.Backward.resize(G.Values.size());
  for (ValueId V = 0; V != G.Values.size(); ++V) {
    R.Forward[V] = F[V].S;
    GradSummary &S = R.Backward[V];
    const GradState &D = B[V];
    S.Coherent = D.Coherent;
    S.Varying = D.Varying;
    S.Reached = D.Reached;
    double Est = std::sqrt(std::max(0.0, D.energy()));
    // Base uncertainty of a measurement against the expectation (finite
    // samples, one seed) plus the rules' accumulated model error.
    double Sigma = std::sqrt(D.Sigma2 + 0.0625);
    S.Norm.Est = Est;
    S.Norm.Lo = D.Unbounded ? 0 : Est * std::exp(-2 * Sigma);
    S.Norm.Hi = D.Unbounded ? Infinity : Est * std::exp(2 * Sigma);
  }
  R.Facts = Facts;

  // Parameters: every float initializer a gradient reaches.
  std::vector<ValueId> Params;
  for (ValueId V : G.Initializers)
    if (B[V].Reached && isFloatingPoint(G.Values[V].Type) &&
        G.Tensors[G.Values[V].Initializer].NumElements > 1)
      Params.push_back(V);
  for (size_t I = 0; I != Params.size(); ++I) {
    ValueId V = Params[I];
    ParameterPrediction P;
    P.Name = G.Values[V].Name;
    P.Shape = G.Values[V].Shape;
    P.Value = V;
    P.GradNorm = R.Backward[V].Norm;
    P.Lipschitz = B[V].Lip;
    P.WeightNorm = std::sqrt(WeightFrob2[V]);
    P.SpectralNorm = WeightSpectral[V];
    if (!G.Values[V].Users.empty())
      P.Consumer = G.Values[V].Users[0];
    // float32 cannot hold per-element gradients below ~1e-45 (and flushes
    // below ~1e-38 on many kernels): predict a zero measurement.
    uint64_t Count = std::max<uint64_t>(1, G.Tensors[G.Values[V].Initializer].NumElements);
    double PerElement = P.GradNorm.Est / std::sqrt(double(Count));
    P.Fp32 = PerElement < 1e-38 ? Float32Outcome::Underflow : Float32Outcome::Normal;
    R.Parameters.push_back(P);
  }
  // Sub-parameters: the weight-gradient formula applied to the block's
  // share of the output gradient.
  for (const SubParameter &S : findSubParameters(M)) {
    if (!B[S.Weight].Reached)
      continue;
    ValueId Part = blockValue(G, S);
    const Node &P = G.Nodes[S.Product];
    ValueId Whole = P.Kind == OpKind::Gemm ? P.Outputs[0] : NoId;
    if (Part == NoId && Whole == NoId)
      continue;
    const FwdState *X = fwd(P.input(0));
    if (!X)
      continue;
    const GradState &Gy = Part != NoId ? B[Part] : B[Whole];
    double Share = Part != NoId ? 1.0 : double(S.End - S.Begin) /
                                            G.Values[Whole].Shape.back();
    double N = std::max<int64_t>(1, X->S.Rows);
    double E = Share * (N * sumMean2(X->S) * Gy.Coherent + sumVar(X->S) * Gy.Varying);
    ParameterPrediction Pred;
    Pred.Name = S.Name;
    Pred.Parent = G.Values[S.Weight].Name;
    Pred.Value = S.Weight;
    Pred.Shape = G.Values[S.Weight].Shape;
    Pred.Shape[S.Axis] = S.End - S.Begin;
    double Est = std::sqrt(std::max(0.0, E));
    double Sigma = std::sqrt(Gy.Sigma2 + 0.0625 + 0.01);
    Pred.GradNorm.Est = Est;
    Pred.GradNorm.Lo = Gy.Unbounded ? 0 : Est * std::exp(-2 * Sigma);
    Pred.GradNorm.Hi = Gy.Unbounded ? Infinity : Est * std::exp(2 * Sigma);
    Pred.Consumer = S.Product;
    R.Parameters.push_back(Pred);
  }
  std::sort(R.Parameters.begin(), R.Parameters.end(),
            [](const ParameterPrediction &A, const ParameterPrediction &B) {
              return A.Name < B.Name;
            });
  return R;
}

llvm::Expected<AnalysisResult> gradlint::analyze(const Model &M,
                                                 const AnalysisOptions &Opts) {
  return Analyzer(M, Opts).run();
}

GradState Analyzer::reduceBroadcast(const GradState &Gr, ValueId Out,
                                    ValueId Operand) const {
  const Dims &OS = G.Values[Out].Shape, &PS = G.Values[Operand].Shape;
  auto RowsOf = [](const Dims &S) {
    int64_t R = 1;
    for (size_t I = 0; I + 1 < S.size(); ++I)
      R *= S[I];
    return R;
  };
  int64_t OutRows = RowsOf(OS), OpRows = RowsOf(PS);
  int64_t OutFeat = OS.empty() ? 1 : OS.back();
  int64_t OpFeat = PS.empty() ? 1 : PS.back();
  GradState C = Gr;
  if (OpRows < OutRows && OpRows > 0) {
    // Each operand row sums K output rows: coherent parts add in amplitude,
    // varying parts (zero-sum over all rows) in energy.
    double K = double(OutRows) / OpRows;
    C.Coherent = K * Gr.Coherent;
    C.Varying = Gr.Varying * (1.0 - 1.0 / OpRows);
    C.ZeroRowSum = false;
  }
  if (OpFeat == 1 && OutFeat > 1) {
    // Σ over features of the gradient: its component along the ones vector.
    double Keep = 1.0 - C.OnesFree;
    C.Coherent *= Keep;
    C.Varying *= Keep;
    C.OnesFree = 0;
    C.ZeroRowSum = false;
  }
  return C;
}
