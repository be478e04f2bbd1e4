//===- Movement.cpp - reshapes, transposes, slicing, gathers, reductions --===//
//
// Ops that move elements keep the gradient's energy; what changes is which
// axis holds the features. When the last axis keeps its meaning the summary
// passes through; a split of the last axis (heads) averages features over
// groups; an op that moves the last axis pools all features.
// Embedding tables: uniform token ids collide in N(N−1)/V pairs of rows,
// whose coherent gradient parts add in amplitude.
//
//===----------------------------------------------------------------------===//
#include "../Analyzer.h"
#include <map>

using namespace gradlint;
using namespace gradlint::analysis;

namespace {

/// Every feature gets the pooled (mixture) moments of S.
ValueSummary pooled(const Analyzer &A, ValueId Out, const ValueSummary &S) {
  ValueSummary R = A.blank(Out);
  double M = Analyzer::pooledMean(S), V = Analyzer::pooledVar(S);
  R.Mean.assign(R.Features, M);
  R.Var.assign(R.Features, V);
  R.Min = S.Min;
  R.Max = S.Max;
  return R;
}

/// Moments when the element order is kept but the last axis may regroup.
ValueSummary regroup(const Analyzer &A, ValueId Out, const ValueSummary &S) {
  ValueSummary R = A.blank(Out);
  R.Min = S.Min;
  R.Max = S.Max;
  int64_t From = S.Features, To = R.Features;
  if (From == To) {
    R.Mean = S.Mean;
    R.Var = S.Var;
  } else if (To > 0 && From % To == 0) {
    // Split of the last axis (D -> [H, dh]): a mixture over the H groups.
    int64_t Groups = From / To;
    for (int64_t F = 0; F < To; ++F) {
      double M = 0, M2 = 0;
      for (int64_t H = 0; H < Groups; ++H) {
        double Mu = S.Mean[H * To + F];
        M += Mu;
        M2 += S.Var[H * To + F] + Mu * Mu;
      }
      M /= Groups;
      M2 /= Groups;
      R.Mean[F] = M;
      R.Var[F] = std::max(0.0, M2 - M * M);
    }
  } else if (From > 0 && To % From == 0) {
    // Merge ([H, dh] -> D): the per-head features repeat.
    for (int64_t F = 0; F < To; ++F) {
      R.Mean[F] = S.Mean[F % From];
      R.Var[F] = S.Var[F % From];
    }
  } else {
    R = pooled(A, Out, S);
  }
  return R;
}

/// Out keeps In's per-position means when its last two axes are In's (the
/// same for every leading index, whatever the leading axes became).
void keepPositions(Analyzer &A, ValueId In, ValueId Out) {
  auto P = A.positions(In);
  const Dims &I = A.val(In).Shape, &O = A.val(Out).Shape;
  if (P && I.size() >= 2 && O.size() >= 2 && I[I.size() - 2] == O[O.size() - 2] &&
      I.back() == O.back())
    A.setPositions(Out, P->D, P->Scale);
}

/// Whether a Transpose leaves its last Count axes where they are.
bool keepsLastAxes(const Node &N, size_t Rank, size_t Count) {
  llvm::ArrayRef<int64_t> P = N.getInts("perm");
  if (P.empty()) // reversed: only a rank-1 last axis stays
    return Rank <= 1 && Count <= 1;
  if (P.size() != Rank || Rank < Count)
    return false;
  for (size_t I = Rank - Count; I != Rank; ++I)
    if (P[I] != int64_t(I))
      return false;
  return true;
}

bool keepsLastAxis(const Node &N, size_t Rank) { return keepsLastAxes(N, Rank, 1); }

/// Reduction axes of a Reduce* node (normalized), or empty for "all".
std::vector<int64_t> reduceAxes(const Analyzer &A, const Node &N, size_t Rank) {
  std::vector<int64_t> Axes;
  bool AsInput = N.Kind == OpKind::ReduceSum ? N.Opset >= 13 : N.Opset >= 18;
  if (AsInput) {
    if (N.input(1) != NoId && A.val(N.input(1)).Const)
      Axes = A.val(N.input(1)).Const->Ints;
  } else {
    Axes.assign(N.getInts("axes").begin(), N.getInts("axes").end());
  }
  if (Axes.empty())
    for (size_t I = 0; I != Rank; ++I)
      Axes.push_back(I);
  for (int64_t &X : Axes)
    if (X < 0)
      X += Rank;
  return Axes;
}

/// Pairs of gathered rows that hit the same table row.
double collisionPairs(const Analyzer &A, const Node &N) {
  ValueId Ids = N.input(1);
  const Value &IV = A.val(Ids);
  uint64_t Count = 1;
  numElements(IV.Shape, Count);
  if (IV.Const) {
    std::map<int64_t, double> Hits;
    for (size_t I = 0; I != IV.Const->size(); ++I)
      Hits[IV.Const->integer(I)] += 1;
    double Pairs = 0;
    for (auto &[R, C] : Hits)
      Pairs += C * (C - 1);
    return Pairs;
  }
  const TensorData *Table = A.G.initializer(N.input(0));
  int64_t Range = Table ? Table->Shape[0] : 0;
  for (const InputSpec &S : A.Setup.Inputs)
    if (S.TokenIds && S.Range > 0)
      Range = S.Range; // the ids the reference draws
  if (Range <= 0)
    return 0;
  return double(Count) * (Count - 1) / Range;
}

} // namespace

static bool forwardMovementMoments(Analyzer &A, const Node &N);

bool analysis::forwardMovement(Analyzer &A, const Node &N) {
  bool Ok = forwardMovementMoments(A, N);
  // The same tokens rearranged share what they shared.
  static constexpr OpKind Rearranging[] = {
      OpKind::Transpose, OpKind::Reshape, OpKind::Flatten, OpKind::Squeeze,
      OpKind::Unsqueeze, OpKind::Expand,  OpKind::Split,   OpKind::Slice};
  if (Ok && llvm::is_contained(Rearranging, N.Kind))
    for (ValueId Out : N.Outputs) {
      A.setShared(Out, A.shared(N.input(0)));
      // Splitting the features into heads pools the heads' means into the
      // variance: a spread every token of a sequence shares.
      const FwdState *X = A.fwd(N.input(0)), *O = A.fwd(Out);
      if (N.Kind != OpKind::Reshape || !X || !O || O->S.Features >= X->S.Features ||
          X->S.Features % O->S.Features)
        continue;
      double VarIn = Analyzer::sumVar(X->S) / X->S.Features,
             VarOut = Analyzer::sumVar(O->S) / O->S.Features;
      if (VarOut > VarIn && VarOut > 0)
        A.setShared(Out, (A.shared(N.input(0)) * VarIn + (VarOut - VarIn)) / VarOut);
    }
  return Ok;
}

static bool forwardMovementMoments(Analyzer &A, const Node &N) {
  ValueId In = N.input(0);
  const FwdState *X = A.fwd(In);
  switch (N.Kind) {
  case OpKind::Gather: {
    ValueId Out = N.Outputs[0];
    const Value &DV = A.val(In);
    int64_t Axis = N.getInt("axis", 0);
    if (Axis < 0)
      Axis += DV.Shape.size();
    const TensorData *Table = A.G.initializer(In);
    if (Table && Axis == 0 && DV.Shape.size() == 2) {
      // An embedding: moments over the rows the ids select.
      std::vector<double> D;
      Table->toDoubles(D);
      int64_t Rows = DV.Shape[0], Dim = DV.Shape[1];
      std::vector<double> Weight(Rows, 0.0);
      const Value &IV = A.val(N.input(1));
      if (IV.Const) {
        for (size_t I = 0; I != IV.Const->size(); ++I) {
          int64_t R = IV.Const->integer(I);
          if (R < 0)
            R += Rows;
          if (R >= 0 && R < Rows)
            Weight[R] += 1;
        }
      } else {
        int64_t Range = Rows;
        for (const InputSpec &S : A.Setup.Inputs)
          if (S.TokenIds && S.Range > 0)
            Range = std::min(Rows, S.Range);
        for (int64_t R = 0; R < Range; ++R)
          Weight[R] = 1;
      }
      double Total = 0;
      for (double W : Weight)
        Total += W;
      ValueSummary S = A.blank(Out);
      S.Min = Infinity;
      S.Max = -Infinity;
      for (int64_t R = 0; R < Rows; ++R) {
        if (Weight[R] == 0)
          continue;
        for (int64_t F = 0; F < Dim; ++F) {
          double V = D[R * Dim + F];
          S.Mean[F] += Weight[R] * V;
          S.Var[F] += Weight[R] * V * V;
          S.Min = std::min(S.Min, V);
          S.Max = std::max(S.Max, V);
        }
      }
      for (int64_t F = 0; F < Dim; ++F) {
        S.Mean[F] /= std::max(Total, 1.0);
        S.Var[F] = std::max(0.0, S.Var[F] / std::max(Total, 1.0) - S.Mean[F] * S.Mean[F]);
      }
      std::vector<double> Mean = S.Mean;
      A.setFwd(Out, S);
      // Ids the same for every batch row (positions): each position's row
      // is known, not a draw.
      if (IV.Const && !IV.Shape.empty() && IV.Const->size() == size_t(IV.Shape.back())) {
        int64_t T = IV.Shape.back(), Anchors = PositionMeans::rowsFor(T);
        std::vector<double> Pos(Anchors * Dim);
        for (int64_t Ti = 0; Ti < Anchors; ++Ti) {
          int64_t R = IV.Const->integer(PositionMeans::positionOf(Ti, T));
          if (R < 0)
            R += Rows;
          if (R < 0 || R >= Rows)
            return true;
          for (int64_t F = 0; F < Dim; ++F)
            Pos[Ti * Dim + F] = D[R * Dim + F] - Mean[F];
        }
        A.setPositions(Out, std::move(Pos));
      }
      return true;
    }
    if (!X)
      return false;
    if (Axis == int64_t(DV.Shape.size()) - 1)
      A.setFwd(Out, pooled(A, Out, X->S));
    else
      A.setFwd(Out, regroup(A, Out, X->S));
    return true;
  }
  case OpKind::GatherElements:
    if (!X)
      return false;
    A.setFwd(N.Outputs[0], pooled(A, N.Outputs[0], X->S));
    return true;
  case OpKind::Transpose: {
    if (!X)
      return false;
    ValueId Out = N.Outputs[0];
    llvm::ArrayRef<int64_t> Perm = N.getInts("perm");
    size_t Rank = A.val(In).Shape.size();
    if (keepsLastAxis(N, Rank))
      A.setFwd(Out, regroup(A, Out, X->S), nullptr, X->Mask);
    else
      A.setFwd(Out, pooled(A, Out, X->S));
    if (Rank >= 2 && Perm.size() == Rank && Perm[Rank - 2] == int64_t(Rank) - 2)
      keepPositions(A, In, Out);
    return true;
  }
  case OpKind::Reshape:
  case OpKind::Flatten:
  case OpKind::Squeeze:
  case OpKind::Unsqueeze:
  case OpKind::Expand:
  case OpKind::Trilu:
    if (!X)
      return false;
    A.setFwd(N.Outputs[0], regroup(A, N.Outputs[0], X->S));
    if (N.Kind != OpKind::Trilu)
      keepPositions(A, In, N.Outputs[0]);
    return true;
  case OpKind::Concat: {
    ValueId Out = N.Outputs[0];
    int64_t Axis = N.getInt("axis", 0);
    size_t Rank = A.val(Out).Shape.size();
    if (Axis < 0)
      Axis += Rank;
    ValueSummary S = A.blank(Out);
    S.Min = Infinity;
    S.Max = -Infinity;
    int64_t At = 0;
    double Weight = 0;
    std::fill(S.Mean.begin(), S.Mean.end(), 0.0);
    for (ValueId V : N.Inputs) {
      const FwdState *P = A.fwd(V);
      if (!P)
        return false;
      S.Min = std::min(S.Min, P->S.Min);
      S.Max = std::max(S.Max, P->S.Max);
      if (Axis == int64_t(Rank) - 1) {
        for (int64_t F = 0; F < P->S.Features && At + F < S.Features; ++F) {
          S.Mean[At + F] = P->S.Mean[F];
          S.Var[At + F] = P->S.Var[F];
        }
        At += P->S.Features;
      } else { // stacked rows: a mixture weighted by row counts
        double W = P->S.Rows;
        for (int64_t F = 0; F < S.Features; ++F) {
          int64_t J = P->S.Features == S.Features ? F : F % P->S.Features;
          S.Mean[F] += W * P->S.Mean[J];
          S.Var[F] += W * (P->S.Var[J] + P->S.Mean[J] * P->S.Mean[J]);
        }
        Weight += W;
      }
    }
    if (Axis != int64_t(Rank) - 1)
      for (int64_t F = 0; F < S.Features; ++F) {
        S.Mean[F] /= std::max(Weight, 1.0);
        S.Var[F] = std::max(0.0, S.Var[F] / std::max(Weight, 1.0) - S.Mean[F] * S.Mean[F]);
      }
    A.setFwd(Out, S);
    return true;
  }
  case OpKind::Split:
  case OpKind::Slice: {
    if (!X)
      return false;
    // Along the last axis: the matching feature range; otherwise rows.
    size_t Rank = A.val(In).Shape.size();
    int64_t Begin = 0;
    for (ValueId Out : N.Outputs) {
      if (Out == NoId)
        continue;
      ValueSummary S = A.blank(Out);
      S.Min = X->S.Min;
      S.Max = X->S.Max;
      bool LastAxis = S.Features != X->S.Features;
      if (N.Kind == OpKind::Slice && LastAxis) {
        auto C = A.val(N.input(1)).Const;
        Begin = C && C->size() == 1 ? C->integer(0) : 0;
        if (Begin < 0)
          Begin += X->S.Features;
      }
      for (int64_t F = 0; F < S.Features; ++F) {
        int64_t J = LastAxis ? std::min(Begin + F, X->S.Features - 1) : F;
        S.Mean[F] = X->S.Mean[J];
        S.Var[F] = X->S.Var[J];
      }
      A.setFwd(Out, S);
      if (auto P = A.positions(In); P && LastAxis && P->F == X->S.Features) {
        std::vector<double> D(P->R * S.Features);
        for (int64_t T = 0; T < P->R; ++T)
          for (int64_t F = 0; F < S.Features; ++F)
            D[T * S.Features + F] = P->D[T * P->F + std::min(Begin + F, P->F - 1)];
        A.setPositions(Out, std::move(D), P->Scale);
      }
      if (LastAxis && N.Kind == OpKind::Split)
        Begin += S.Features;
    }
    (void)Rank;
    return true;
  }
  case OpKind::ReduceMean:
  case OpKind::ReduceSum:
  case OpKind::ReduceMax: {
    if (!X)
      return false;
    ValueId Out = N.Outputs[0];
    const Value &IV = A.val(In);
    std::vector<int64_t> Axes = reduceAxes(A, N, IV.Shape.size());
    int64_t Last = IV.Shape.size() - 1;
    bool OverLast = std::find(Axes.begin(), Axes.end(), Last) != Axes.end();
    double Count = 1;
    for (int64_t Ax : Axes)
      Count *= IV.Shape[Ax];
    ValueSummary S = A.blank(Out);
    double Scale = N.Kind == OpKind::ReduceSum ? Count : 1.0;
    if (OverLast) {
      // Σ or mean over features (and perhaps rows): one pooled number per row.
      double M = Analyzer::pooledMean(X->S), V = Analyzer::sumVar(X->S);
      double Feat = X->S.Features, RowsIn = Count / Feat;
      double Mean = M, Var = V / (Feat * Feat) / RowsIn;
      if (N.Kind == OpKind::ReduceMax) {
        Mean = M + std::sqrt(2 * std::log(std::max(Count, 2.0)) * Analyzer::pooledVar(X->S));
        Var = Analyzer::pooledVar(X->S) / std::max(1.0, std::log(Count));
      }
      S.Mean.assign(S.Features, Mean * Scale);
      S.Var.assign(S.Features, Var * Scale * Scale);
    } else {
      for (int64_t F = 0; F < S.Features && F < X->S.Features; ++F) {
        S.Mean[F] = X->S.Mean[F] * Scale;
        S.Var[F] = X->S.Var[F] / Count * Scale * Scale;
      }
    }
    S.Min = X->S.Min * Scale;
    S.Max = X->S.Max * Scale;
    if (S.Min > S.Max)
      std::swap(S.Min, S.Max);
    A.setFwd(Out, S);
    return true;
  }
  default:
    return false;
  }
}

bool analysis::backwardMovement(Analyzer &A, const Node &N) {
  ValueId In = N.input(0);
  switch (N.Kind) {
  case OpKind::Gather: {
    const GradState &G = A.grad(N.Outputs[0]);
    if (A.G.initializer(In) || A.val(In).Initializer >= 0) {
      // Rows hit twice add their coherent parts in amplitude.
      double Rows = std::max<int64_t>(1, A.fwd(N.Outputs[0]) ? A.fwd(N.Outputs[0])->S.Rows : 1);
      GradState C = G;
      C.Varying = G.energy() + collisionPairs(A, N) * G.Coherent / Rows;
      C.Coherent = 0;
      C.OnesFree = 0;
      C.ZeroRowSum = false;
      C.setPos({}, 0);
      A.addGrad(In, C);
      return true;
    }
    A.addGrad(In, G);
    return true;
  }
  case OpKind::GatherElements:
    A.addGrad(In, A.grad(N.Outputs[0]));
    return true;
  case OpKind::Transpose: {
    GradState C = A.grad(N.Outputs[0]);
    if (!keepsLastAxes(N, A.val(In).Shape.size(), 2))
      C.setPos({}, 0); // the positions' axis moved
    if (!keepsLastAxis(N, A.val(In).Shape.size())) {
      // Rows summing to zero along the moved axis: in the input's layout
      // that sum runs over the rows, so no coherent part remains.
      if (C.ZeroRowSum) {
        C.Varying += C.Coherent;
        C.Coherent = 0;
      }
      C.ZeroRowSum = false;
      C.OnesFree = 0;
    }
    A.addGrad(In, C);
    return true;
  }
  case OpKind::Reshape:
  case OpKind::Flatten:
  case OpKind::Squeeze:
  case OpKind::Unsqueeze:
  case OpKind::Trilu: {
    GradState C = A.grad(N.Outputs[0]);
    const Dims &IS = A.val(In).Shape, &OS = A.val(N.Outputs[0]).Shape;
    if (IS.empty() || OS.empty() || IS.back() != OS.back()) {
      C.ZeroRowSum = false;
      C.OnesFree = 0;
    }
    if (IS.size() < 2 || OS.size() < 2 || IS.back() != OS.back() ||
        IS[IS.size() - 2] != OS[OS.size() - 2])
      C.setPos({}, 0);
    A.addGrad(In, C);
    return true;
  }
  case OpKind::Expand:
    A.addGrad(In, A.reduceBroadcast(A.grad(N.Outputs[0]), N.Outputs[0], In));
    return true;
  case OpKind::Concat: {
    const GradState &G = A.grad(N.Outputs[0]);
    uint64_t Total = 1;
    numElements(A.val(N.Outputs[0]).Shape, Total);
    for (ValueId V : N.Inputs) {
      if (V == NoId || !A.differentiable(V))
        continue;
      uint64_t Part = 1;
      numElements(A.val(V).Shape, Part);
      double Share = Total ? double(Part) / Total : 0;
      GradState C = G;
      C.Coherent *= Share;
      C.Varying *= Share;
      C.Lip = G.Lip;
      C.ZeroRowSum = false;
      A.addGrad(V, C);
    }
    return true;
  }
  case OpKind::Split:
  case OpKind::Slice: {
    for (ValueId Out : N.Outputs)
      if (Out != NoId && A.grad(Out).Reached) {
        GradState C = A.grad(Out);
        C.ZeroRowSum = false;
        C.OnesFree = 0;
        A.addGrad(In, C);
      }
    return true;
  }
  case OpKind::ReduceMean:
  case OpKind::ReduceSum:
  case OpKind::ReduceMax: {
    const GradState &G = A.grad(N.Outputs[0]);
    const Value &IV = A.val(In);
    std::vector<int64_t> Axes = reduceAxes(A, N, IV.Shape.size());
    int64_t Last = IV.Shape.size() - 1;
    bool OverLast = std::find(Axes.begin(), Axes.end(), Last) != Axes.end();
    double Count = 1;
    for (int64_t Ax : Axes)
      Count *= IV.Shape[Ax];
    // Each input element gets g/Count (mean), g (sum) or all of g (max).
    double Factor = N.Kind == OpKind::ReduceMean ? 1.0 / Count
                    : N.Kind == OpKind::ReduceSum ? Count
                                                  : 1.0;
    GradState C = Analyzer::scaled(G, Factor, 0.0, N.Kind == OpKind::ReduceMax ? 1.0 : std::sqrt(Factor));
    if (!OverLast && N.Kind != OpKind::ReduceMax) {
      // Broadcast back over rows: identical in every reduced row.
      C.Coherent += C.Varying;
      C.Varying = 0;
    }
    C.OnesFree = 0;
    A.addGrad(In, C);
    return true;
  }
  default:
    return false;
  }
}
