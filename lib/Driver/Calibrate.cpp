//===- Calibrate.cpp - measured forward statistics for the analysis -------===//
//
// Per float value: per-feature sums and sums of squares over every row of
// every pass (rows and features as the analysis lays them out: the last
// axis is the feature axis), and the extremes. Per softmax over the last
// axis: Σp², Σp³ and max p of each query row and the column sums of p,
// averaged over the leading dimensions (batch, heads) and the passes.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Support/Error.h"
#include <algorithm>
#include <cmath>

using namespace gradlint;

namespace {

struct ValueAcc {
  int64_t Rows = 0, Features = 0;
  uint64_t Count = 0; ///< rows seen over all passes
  std::vector<double> Sum, Sum2;
  /// Rank >= 3: Σ over leading slices of the per-feature variance along the
  /// sequence axis, and the number of slices.
  std::vector<double> SeqVar;
  uint64_t Slices = 0;
  double Min = Infinity, Max = -Infinity;
  bool Consistent = true;
};

struct SoftmaxAcc {
  int64_t Tq = 0, Keys = 0;
  uint64_t Lines = 0; ///< leading slices seen (batch × heads × passes)
  std::vector<double> SumP2, SumP3, MaxP, JF, ColSum;
};

/// Whether V is the output of a softmax over its last axis.
bool softmaxOverLast(const Graph &G, ValueId V) {
  NodeId P = G.Values[V].Producer;
  if (P == NoId || G.Nodes[P].Kind != OpKind::Softmax)
    return false;
  const Node &N = G.Nodes[P];
  int64_t Rank = static_cast<int64_t>(G.Values[V].Shape.size());
  int64_t Axis = N.getInt("axis", N.Opset >= 13 ? -1 : 1);
  return Rank >= 2 && (Axis < 0 ? Axis + Rank : Axis) == Rank - 1;
}

class Collector {
public:
  explicit Collector(const Graph &G) : G(G) {}

  void add(ValueId V, const float *Data, llvm::ArrayRef<int64_t> Shape) {
    int64_t F = Shape.empty() ? 1 : std::max<int64_t>(1, Shape.back());
    int64_t N = 1;
    for (int64_t D : Shape)
      N *= D;
    int64_t R = N / F;
    ValueAcc &A = Values[V];
    if (A.Features == 0) {
      A.Features = F, A.Rows = R;
      A.Sum.assign(F, 0.0);
      A.Sum2.assign(F, 0.0);
    } else if (A.Features != F || A.Rows != R) {
      A.Consistent = false;
      return;
    }
    for (int64_t Row = 0; Row < R; ++Row)
      for (int64_t I = 0; I < F; ++I) {
        double X = Data[Row * F + I];
        A.Sum[I] += X;
        A.Sum2[I] += X * X;
        A.Min = std::min(A.Min, X);
        A.Max = std::max(A.Max, X);
      }
    A.Count += R;
    if (Shape.size() >= 3 && Shape[Shape.size() - 2] > 1)
      addSequenceVar(A, Data, Shape);
    if (softmaxOverLast(G, V))
      addSoftmax(V, Data, Shape);
  }

  std::shared_ptr<const Calibration> finish(unsigned Passes) const {
    auto C = std::make_shared<Calibration>();
    C->Passes = Passes;
    for (const auto &[V, A] : Values) {
      if (!A.Consistent || A.Count == 0)
        continue;
      ValueSummary S;
      S.Rows = A.Rows;
      S.Features = A.Features;
      S.Mean.resize(A.Features);
      S.Var.resize(A.Features);
      for (int64_t I = 0; I < A.Features; ++I) {
        S.Mean[I] = A.Sum[I] / A.Count;
        S.Var[I] = std::max(0.0, A.Sum2[I] / A.Count - S.Mean[I] * S.Mean[I]);
      }
      S.Min = A.Min;
      S.Max = A.Max;
      C->Values[V] = std::move(S);
      if (A.Slices) {
        std::vector<double> Seq(A.SeqVar);
        for (double &X : Seq)
          X /= A.Slices;
        C->SequenceVar[V] = std::move(Seq);
      }
    }
    for (const auto &[V, A] : Softmax) {
      if (A.Lines == 0)
        continue;
      Calibration::SoftmaxRows R;
      double L = static_cast<double>(A.Lines);
      auto Scaled = [&](const std::vector<double> &X) {
        std::vector<double> Y(X);
        for (double &Y1 : Y)
          Y1 /= L;
        return Y;
      };
      R.SumP2 = Scaled(A.SumP2);
      R.SumP3 = Scaled(A.SumP3);
      R.MaxP = Scaled(A.MaxP);
      R.JF = Scaled(A.JF);
      R.ColSum = Scaled(A.ColSum);
      C->Softmax[V] = std::move(R);
    }
    return C;
  }

private:
  static void addSequenceVar(ValueAcc &A, const float *Data,
                             llvm::ArrayRef<int64_t> Shape) {
    int64_t F = A.Features, T = Shape[Shape.size() - 2];
    int64_t Slices = A.Rows / T;
    if (A.SeqVar.empty())
      A.SeqVar.assign(F, 0.0);
    std::vector<double> Sum(F), Sum2(F);
    for (int64_t L = 0; L < Slices; ++L) {
      std::fill(Sum.begin(), Sum.end(), 0.0);
      std::fill(Sum2.begin(), Sum2.end(), 0.0);
      const float *P = Data + L * T * F;
      for (int64_t Tk = 0; Tk < T; ++Tk)
        for (int64_t I = 0; I < F; ++I) {
          double X = P[Tk * F + I];
          Sum[I] += X;
          Sum2[I] += X * X;
        }
      for (int64_t I = 0; I < F; ++I) {
        double M = Sum[I] / T;
        A.SeqVar[I] += std::max(0.0, Sum2[I] / T - M * M);
      }
    }
    A.Slices += Slices;
  }

  void addSoftmax(ValueId V, const float *Data, llvm::ArrayRef<int64_t> Shape) {
    int64_t Keys = Shape.back(), Tq = Shape[Shape.size() - 2];
    int64_t Lines = 1;
    for (size_t I = 0; I + 2 < Shape.size(); ++I)
      Lines *= Shape[I];
    SoftmaxAcc &A = Softmax[V];
    if (A.Keys == 0) {
      A.Tq = Tq, A.Keys = Keys;
      A.SumP2.assign(Tq, 0.0);
      A.SumP3.assign(Tq, 0.0);
      A.MaxP.assign(Tq, 0.0);
      A.JF.assign(Tq, 0.0);
      A.ColSum.assign(Keys, 0.0);
    } else if (A.Tq != Tq || A.Keys != Keys) {
      return; // the value's own accumulator is already marked inconsistent
    }
    for (int64_t L = 0; L < Lines; ++L)
      for (int64_t I = 0; I < Tq; ++I) {
        const float *P = Data + (L * Tq + I) * Keys;
        double S2 = 0, S3 = 0, Mx = 0;
        for (int64_t J = 0; J < Keys; ++J) {
          double X = P[J];
          S2 += X * X;
          S3 += X * X * X;
          Mx = std::max(Mx, X);
          A.ColSum[J] += X;
        }
        A.SumP2[I] += S2;
        A.SumP3[I] += S3;
        A.MaxP[I] += Mx;
        A.JF[I] += S2 - 2 * S3 + S2 * S2;
      }
    A.Lines += Lines;
  }

  const Graph &G;
  std::map<ValueId, ValueAcc> Values;
  std::map<ValueId, SoftmaxAcc> Softmax;
};

} // namespace

llvm::Expected<std::shared_ptr<const Calibration>>
gradlint::measureCalibration(Model &M, const DimBindings &Dims,
                             const LossKind *Loss, uint64_t Seed,
                             unsigned Passes) {
  Collector C(M.G);
  for (unsigned K = 0; K < std::max(Passes, 1u); ++K) {
    ProbeOptions P;
    P.Dims = Dims;
    P.Seed = Seed + K;
    if (Loss)
      P.Loss = *Loss;
    P.ForwardOnly = true;
    P.OnForwardValue = [&](ValueId V, const float *Data,
                           llvm::ArrayRef<int64_t> Shape) { C.add(V, Data, Shape); };
    auto R = runProbe(M, P);
    if (!R)
      return R.takeError();
    if (K == 0 && Passes == 0) { // tokens per pass: the first input's rows
      int64_t Tokens = 1;
      if (!M.G.Inputs.empty()) {
        const Value &In = M.G.Values[M.G.Inputs[0]];
        bool Ids = In.Type == DataType::Int64 || In.Type == DataType::Int32;
        for (size_t I = 0; I + (Ids ? 0 : 1) < In.Shape.size(); ++I)
          Tokens *= In.Shape[I];
      }
      Passes = calibrationPasses(Tokens);
    }
  }
  return C.finish(Passes);
}

llvm::Expected<AnalysedModel> gradlint::analyseModel(llvm::StringRef Path,
                                                     const DimBindings &Dims,
                                                     AnalysisOptions Opts,
                                                     bool Calibrate) {
  auto M = loadModel(Path);
  if (!M)
    return M.takeError();
  if (Calibrate) { // before the analysis' own shape inference
    auto C = measureCalibration(**M, Dims, Opts.ForcedLoss);
    if (!C) {
      std::string Msg = llvm::toString(C.takeError());
      // The probe's errors start with the model's path; say it once.
      llvm::StringRef Rest(Msg);
      if (Rest.consume_front(Path) && Rest.consume_front(": "))
        Msg = Rest.str();
      return fileError(Path, "--calibrate runs the model forward, and cannot: " + Msg);
    }
    Opts.Calibrated = *C;
  }
  auto Shapes = inferShapes(**M, Dims);
  if (!Shapes)
    return Shapes.takeError();
  ModelStructure Structure = recoverStructure(**M);
  auto A = analyze(**M, Opts);
  if (!A)
    return inFile(Path, A.takeError());
  return AnalysedModel{std::move(*M), std::move(*Shapes), std::move(Structure),
                       std::move(*A)};
}
