//===- ShapeInference.cpp - forward shape rules for the op set ------------===//
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/STLExtras.h"
#include <cmath>
#include <optional>

using namespace gradlint;

using HostPtr = std::shared_ptr<const HostTensor>;

namespace {

/// What a shape rule produces for one node.
struct RuleResult {
  llvm::SmallVector<std::optional<Dims>, 2> Shapes; ///< per output
  llvm::SmallVector<HostPtr, 2> Folded;             ///< optional, per output
  std::string Unknown; ///< why outputs stay unknown, when they do
};

class ShapeInferrer {
public:
  ShapeInferrer(Model &M) : M(M), G(M.G) {}
  llvm::Expected<ShapeReport> run(const DimBindings &User,
                                  const InputValues &Known);

private:
  llvm::Error bindInputs(const DimBindings &User, ShapeReport &R);
  llvm::Error inferNode(NodeId Id, ShapeReport &R);
  /// Returns the rule's result, or an Error for a contradiction.
  llvm::Expected<RuleResult> rule(const Node &N);

  const Dims *shape(const Node &N, unsigned I) const {
    ValueId V = N.input(I);
    return V != NoId && G.Values[V].HasShape ? &G.Values[V].Shape : nullptr;
  }
  HostPtr constant(const Node &N, unsigned I) const {
    ValueId V = N.input(I);
    return V == NoId ? nullptr : G.Values[V].Const;
  }
  /// Integer list from a constant input, or from an attribute (older opsets).
  std::optional<std::vector<int64_t>> intsFrom(const Node &N, unsigned Input,
                                               llvm::StringRef Attr) const {
    if (HostPtr C = constant(N, Input); C && C->isInteger())
      return C->Ints;
    if (N.input(Input) == NoId && N.attr(Attr))
      return std::vector<int64_t>(N.getInts(Attr).begin(), N.getInts(Attr).end());
    return std::nullopt;
  }
  llvm::Error contradiction(const Node &N, const llvm::Twine &What) const {
    return fileError(M.Info.Path, "node '" + N.Name + "' (" + N.OpType +
                                      "): " + What);
  }

  Model &M;
  Graph &G;
};

/// Largest element count of one value: 2^40 (4 TiB of float32). Past it a
/// shape is a damaged file or a typo in --dim, and the rules that keep a
/// number per feature or per position must not try to allocate it.
constexpr double MaxValueElements = double(uint64_t(1) << 40);

bool oversized(const Dims &Shape) {
  double N = 1;
  for (int64_t D : Shape)
    N *= double(std::max<int64_t>(D, 0));
  return N > MaxValueElements;
}

int64_t normAxis(int64_t Axis, size_t Rank) {
  return Axis < 0 ? Axis + static_cast<int64_t>(Rank) : Axis;
}

bool axisOk(int64_t Axis, size_t Rank) {
  return Axis >= 0 && Axis < static_cast<int64_t>(Rank);
}

RuleResult same(const Dims &S, unsigned Outputs = 1) {
  RuleResult R;
  for (unsigned I = 0; I != Outputs; ++I)
    R.Shapes.push_back(S);
  return R;
}

RuleResult unknown(std::string Why) {
  RuleResult R;
  R.Unknown = std::move(Why);
  return R;
}

} // namespace

llvm::Error ShapeInferrer::bindInputs(const DimBindings &User,
                                      ShapeReport &R) {
  for (ValueId Id : G.Inputs) {
    Value &V = G.Values[Id];
    if (!V.NonTensorKind.empty())
      return fileError(M.Info.Path, "input '" + V.Name + "' is a " +
                                        V.NonTensorKind +
                                        ", not a tensor; gradlint analyses "
                                        "tensor graphs only");
    if (!V.HasDeclaredShape)
      return fileError(M.Info.Path, "input '" + V.Name +
                                        "' declares no shape; gradlint needs "
                                        "at least its rank");
    V.Shape.clear();
    for (size_t Axis = 0; Axis != V.DeclaredShape.size(); ++Axis) {
      const DimSpec &D = V.DeclaredShape[Axis];
      if (D.isKnown()) {
        V.Shape.push_back(D.Size);
        continue;
      }
      if (D.Symbol.empty())
        return fileError(M.Info.Path,
                         "input '" + V.Name + "' has an unnamed dynamic "
                         "dimension at axis " + llvm::Twine(Axis) +
                         "; name it in the model or give the model a fixed shape");
      int64_t Val;
      if (auto It = User.find(D.Symbol); It != User.end()) {
        Val = It->second;
      } else if (auto Seen = R.Dims.find(D.Symbol); Seen != R.Dims.end()) {
        Val = Seen->second;
      } else {
        Val = defaultDimValue(D.Symbol);
        if (Val < 0)
          return fileError(M.Info.Path,
                           "input '" + V.Name + "' has symbolic dimension '" +
                               D.Symbol + "' with no value; pass --dim " +
                               D.Symbol + "=VALUE");
        R.Defaulted.push_back(D.Symbol);
      }
      R.Dims[D.Symbol] = Val;
      V.Shape.push_back(Val);
    }
    if (oversized(V.Shape))
      return fileError(M.Info.Path, "input '" + V.Name + "' has shape " +
                                        formatShape(V.Shape) +
                                        ", more than 2^40 elements (check --dim)");
    V.HasShape = true;
  }
  for (ValueId Id : G.Initializers) {
    Value &V = G.Values[Id];
    const TensorData &T = G.Tensors[V.Initializer];
    V.Shape = T.Shape;
    V.HasShape = true;
    V.Const = hostTensorOf(T);
  }
  return llvm::Error::success();
}

llvm::Expected<RuleResult> ShapeInferrer::rule(const Node &N) {
  const Dims *X = shape(N, 0);
  switch (N.Kind) {
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Pow:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::Sum:
  case OpKind::Mod:
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::Greater:
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Where:
  case OpKind::BiasGelu: {
    Dims Out;
    for (unsigned I = 0; I != N.Inputs.size(); ++I) {
      const Dims *S = shape(N, I);
      if (!S)
        return unknown("input " + std::to_string(I) + " has no known shape");
      Dims Next;
      if (I == 0)
        Next = *S;
      else if (!broadcastShapes(Out, *S, Next))
        return contradiction(N, "shapes " + formatShape(Out) + " and " +
                                    formatShape(*S) + " do not broadcast");
      Out = Next;
    }
    return same(Out);
  }
  case OpKind::Sqrt:
  case OpKind::Reciprocal:
  case OpKind::Neg:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Abs:
  case OpKind::Ceil:
  case OpKind::Floor:
  case OpKind::Erf:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Relu:
  case OpKind::LeakyRelu:
  case OpKind::Gelu:
  case OpKind::Elu:
  case OpKind::Selu:
  case OpKind::Softplus:
  case OpKind::Mish:
  case OpKind::HardSigmoid:
  case OpKind::Clip:
  case OpKind::Identity:
  case OpKind::Cast:
  case OpKind::CastLike:
  case OpKind::Not:
  case OpKind::FastGelu:
  case OpKind::MsGelu:
  case OpKind::QuickGelu:
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
  case OpKind::Trilu:
  case OpKind::RMSNormalization:
  case OpKind::Dropout:
    if (!X)
      return unknown("input has no known shape");
    return same(*X, N.Outputs.size());
  case OpKind::LayerNormalization:
  case OpKind::SimplifiedLayerNormalization:
  case OpKind::SkipLayerNormalization:
  case OpKind::SkipSimplifiedLayerNormalization: {
    if (!X)
      return unknown("input has no known shape");
    int64_t Axis = normAxis(N.getInt("axis", -1), X->size());
    bool Skip = N.Kind == OpKind::SkipLayerNormalization ||
                N.Kind == OpKind::SkipSimplifiedLayerNormalization;
    if (Skip)
      Axis = static_cast<int64_t>(X->size()) - 1;
    if (!axisOk(Axis, X->size()))
      return contradiction(N, "axis out of range for rank " +
                                  llvm::Twine(X->size()));
    Dims Stat = *X;
    for (size_t I = Axis; I < Stat.size(); ++I)
      Stat[I] = 1;
    RuleResult R;
    for (unsigned I = 0; I != N.Outputs.size(); ++I)
      R.Shapes.push_back((I == 0 || (Skip && I == 3)) ? *X : Stat);
    return R;
  }
  case OpKind::MatMul: {
    const Dims *B = shape(N, 1);
    if (!X || !B)
      return unknown("an input has no known shape");
    Dims A2 = *X, B2 = *B;
    if (A2.empty() || B2.empty())
      return contradiction(N, "MatMul of a scalar");
    bool APromoted = A2.size() == 1, BPromoted = B2.size() == 1;
    if (APromoted)
      A2.insert(A2.begin(), 1);
    if (BPromoted)
      B2.push_back(1);
    int64_t K1 = A2.back(), K2 = B2[B2.size() - 2];
    if (K1 != K2)
      return contradiction(N, "inner dimensions " + llvm::Twine(K1) + " of " +
                                  formatShape(*X) + " and " + llvm::Twine(K2) +
                                  " of " + formatShape(*B) + " do not match");
    Dims Batch;
    if (!broadcastShapes(llvm::ArrayRef<int64_t>(A2).drop_back(2),
                         llvm::ArrayRef<int64_t>(B2).drop_back(2), Batch))
      return contradiction(N, "batch dimensions of " + formatShape(*X) +
                                  " and " + formatShape(*B) +
                                  " do not broadcast");
    Dims Out = Batch;
    if (!APromoted)
      Out.push_back(A2[A2.size() - 2]);
    if (!BPromoted)
      Out.push_back(B2.back());
    return same(Out);
  }
  case OpKind::Gemm: {
    const Dims *B = shape(N, 1);
    if (!X || !B)
      return unknown("an input has no known shape");
    if (X->size() != 2 || B->size() != 2)
      return contradiction(N, "Gemm needs 2-D inputs, got " + formatShape(*X) +
                                  " and " + formatShape(*B));
    bool TA = N.getInt("transA", 0), TB = N.getInt("transB", 0);
    int64_t M_ = TA ? (*X)[1] : (*X)[0], K1 = TA ? (*X)[0] : (*X)[1];
    int64_t K2 = TB ? (*B)[1] : (*B)[0], N_ = TB ? (*B)[0] : (*B)[1];
    if (K1 != K2)
      return contradiction(N, "inner dimensions " + llvm::Twine(K1) + " and " +
                                  llvm::Twine(K2) + " do not match");
    if (const Dims *C = shape(N, 2)) {
      Dims Out;
      if (!broadcastShapes({M_, N_}, *C, Out) || Out.size() != 2 ||
          Out[0] != M_ || Out[1] != N_)
        return contradiction(N, "bias " + formatShape(*C) +
                                    " does not broadcast to [" +
                                    llvm::Twine(M_) + ", " + llvm::Twine(N_) + "]");
    }
    return same(Dims{M_, N_});
  }
  case OpKind::ReduceMean:
  case OpKind::ReduceSum:
  case OpKind::ReduceMax: {
    if (!X)
      return unknown("input has no known shape");
    bool AxesAsInput = N.Kind == OpKind::ReduceSum ? N.Opset >= 13 : N.Opset >= 18;
    std::optional<std::vector<int64_t>> Axes;
    if (AxesAsInput) {
      if (N.input(1) == NoId)
        Axes = std::vector<int64_t>{};
      else
        Axes = intsFrom(N, 1, "");
    } else {
      Axes = std::vector<int64_t>(N.getInts("axes").begin(), N.getInts("axes").end());
    }
    if (!Axes)
      return unknown("reduction axes are not constant");
    bool Keep = N.getInt("keepdims", 1);
    if (Axes->empty()) {
      if (N.getInt("noop_with_empty_axes", 0))
        return same(*X);
      for (size_t I = 0; I != X->size(); ++I)
        Axes->push_back(I);
    }
    llvm::SmallVector<bool, 8> Reduced(X->size(), false);
    for (int64_t A : *Axes) {
      A = normAxis(A, X->size());
      if (!axisOk(A, X->size()))
        return contradiction(N, "reduction axis out of range for " + formatShape(*X));
      Reduced[A] = true;
    }
    Dims Out;
    for (size_t I = 0; I != X->size(); ++I)
      if (!Reduced[I])
        Out.push_back((*X)[I]);
      else if (Keep)
        Out.push_back(1);
    return same(Out);
  }
  case OpKind::Transpose: {
    if (!X)
      return unknown("input has no known shape");
    llvm::ArrayRef<int64_t> Perm = N.getInts("perm");
    Dims Out;
    if (Perm.empty()) {
      Out.assign(X->rbegin(), X->rend());
      return same(Out);
    }
    if (Perm.size() != X->size())
      return contradiction(N, "perm has " + llvm::Twine(Perm.size()) +
                                  " entries for rank " + llvm::Twine(X->size()));
    llvm::SmallVector<bool, 8> Used(X->size(), false);
    for (int64_t P : Perm) {
      if (!axisOk(P, X->size()) || Used[P])
        return contradiction(N, "perm is not a permutation");
      Used[P] = true;
      Out.push_back((*X)[P]);
    }
    return same(Out);
  }
  case OpKind::Reshape: {
    HostPtr S = constant(N, 1);
    if (!X)
      return unknown("input has no known shape");
    if (!S || !S->isInteger())
      return unknown("target shape is not a constant");
    bool AllowZero = N.getInt("allowzero", 0);
    Dims Out;
    int64_t Infer = -1;
    uint64_t Total;
    numElements(*X, Total);
    uint64_t Known = 1;
    for (size_t I = 0; I != S->Ints.size(); ++I) {
      int64_t D = S->Ints[I];
      if (D == 0 && !AllowZero) {
        if (I >= X->size())
          return contradiction(N, "0 in target shape copies a missing axis");
        D = (*X)[I];
      }
      if (D == -1) {
        if (Infer >= 0)
          return contradiction(N, "target shape has two -1 entries");
        Infer = I;
        Out.push_back(1);
        continue;
      }
      if (D < 0)
        return contradiction(N, "target shape has negative entry " + llvm::Twine(D));
      Out.push_back(D);
      Known *= static_cast<uint64_t>(D);
    }
    if (Infer >= 0) {
      if (Known == 0 || Total % Known)
        return contradiction(N, "cannot reshape " + formatShape(*X) + " to " +
                                    formatShape(S->Ints));
      Out[Infer] = Total / Known;
    } else if (Known != Total) {
      return contradiction(N, "cannot reshape " + formatShape(*X) + " (" +
                                  llvm::Twine(Total) + " elements) to " +
                                  formatShape(Out));
    }
    return same(Out);
  }
  case OpKind::Flatten: {
    if (!X)
      return unknown("input has no known shape");
    int64_t Axis = normAxis(N.getInt("axis", 1), X->size());
    if (Axis < 0 || Axis > static_cast<int64_t>(X->size()))
      return contradiction(N, "axis out of range");
    int64_t A = 1, B = 1;
    for (int64_t I = 0; I != static_cast<int64_t>(X->size()); ++I)
      (I < Axis ? A : B) *= (*X)[I];
    return same(Dims{A, B});
  }
  case OpKind::Squeeze: {
    if (!X)
      return unknown("input has no known shape");
    std::optional<std::vector<int64_t>> Axes =
        N.Opset >= 13 ? (N.input(1) == NoId ? std::vector<int64_t>{}
                                            : intsFrom(N, 1, ""))
                      : std::vector<int64_t>(N.getInts("axes").begin(),
                                             N.getInts("axes").end());
    if (!Axes)
      return unknown("squeeze axes are not constant");
    llvm::SmallVector<bool, 8> Drop(X->size(), false);
    if (Axes->empty())
      for (size_t I = 0; I != X->size(); ++I)
        Drop[I] = (*X)[I] == 1;
    for (int64_t A : *Axes) {
      A = normAxis(A, X->size());
      if (!axisOk(A, X->size()) || (*X)[A] != 1)
        return contradiction(N, "cannot squeeze axis " + llvm::Twine(A) +
                                    " of " + formatShape(*X));
      Drop[A] = true;
    }
    Dims Out;
    for (size_t I = 0; I != X->size(); ++I)
      if (!Drop[I])
        Out.push_back((*X)[I]);
    return same(Out);
  }
  case OpKind::Unsqueeze: {
    if (!X)
      return unknown("input has no known shape");
    std::optional<std::vector<int64_t>> Axes =
        N.Opset >= 13 ? intsFrom(N, 1, "")
                      : std::vector<int64_t>(N.getInts("axes").begin(),
                                             N.getInts("axes").end());
    if (!Axes)
      return unknown("unsqueeze axes are not constant");
    size_t R = X->size() + Axes->size();
    llvm::SmallVector<bool, 8> Inserted(R, false);
    for (int64_t A : *Axes) {
      A = normAxis(A, R);
      if (!axisOk(A, R) || Inserted[A])
        return contradiction(N, "invalid unsqueeze axes");
      Inserted[A] = true;
    }
    Dims Out;
    size_t J = 0;
    for (size_t I = 0; I != R; ++I)
      Out.push_back(Inserted[I] ? 1 : (*X)[J++]);
    return same(Out);
  }
  case OpKind::Concat: {
    if (!X)
      return unknown("input has no known shape");
    int64_t Axis = normAxis(N.getInt("axis", 0), X->size());
    if (!axisOk(Axis, X->size()))
      return contradiction(N, "axis out of range");
    Dims Out = *X;
    for (unsigned I = 1; I < N.Inputs.size(); ++I) {
      const Dims *S = shape(N, I);
      if (!S)
        return unknown("an input has no known shape");
      if (S->size() != Out.size())
        return contradiction(N, "inputs have ranks " + llvm::Twine(Out.size()) +
                                    " and " + llvm::Twine(S->size()));
      for (size_t A = 0; A != S->size(); ++A)
        if (static_cast<int64_t>(A) != Axis && (*S)[A] != Out[A])
          return contradiction(N, "inputs " + formatShape(*X) + " and " +
                                      formatShape(*S) + " differ off the axis");
      Out[Axis] += (*S)[Axis];
    }
    return same(Out);
  }
  case OpKind::Split: {
    if (!X)
      return unknown("input has no known shape");
    int64_t Axis = normAxis(N.getInt("axis", 0), X->size());
    if (!axisOk(Axis, X->size()))
      return contradiction(N, "axis out of range");
    std::vector<int64_t> Sizes;
    if (N.Opset >= 13 && N.input(1) != NoId) {
      auto S = intsFrom(N, 1, "");
      if (!S)
        return unknown("split sizes are not constant");
      Sizes = *S;
    } else if (N.Opset < 13 && N.attr("split")) {
      Sizes.assign(N.getInts("split").begin(), N.getInts("split").end());
    } else {
      int64_t Parts = N.Outputs.size();
      if (N.attr("num_outputs"))
        Parts = N.getInt("num_outputs", Parts);
      if (Parts <= 0)
        return contradiction(N, "no outputs to split into");
      int64_t D = (*X)[Axis];
      int64_t Chunk = (D + Parts - 1) / Parts;
      if (N.Opset < 18 && D % Parts)
        return contradiction(N, "axis of size " + llvm::Twine(D) +
                                    " does not split evenly into " +
                                    llvm::Twine(Parts));
      for (int64_t P = 0; P != Parts; ++P)
        Sizes.push_back(std::max<int64_t>(0, std::min(Chunk, D - P * Chunk)));
    }
    int64_t Sum = 0;
    for (int64_t S : Sizes)
      Sum += S;
    if (Sum != (*X)[Axis] || Sizes.size() != N.Outputs.size())
      return contradiction(N, "split sizes do not add up to " +
                                  llvm::Twine((*X)[Axis]) + " over " +
                                  llvm::Twine(N.Outputs.size()) + " outputs");
    RuleResult R;
    for (int64_t S : Sizes) {
      Dims Out = *X;
      Out[Axis] = S;
      R.Shapes.push_back(Out);
    }
    return R;
  }
  case OpKind::Slice: {
    if (!X)
      return unknown("input has no known shape");
    std::optional<std::vector<int64_t>> Starts, Ends, Axes, Steps;
    if (N.Opset >= 10) {
      Starts = intsFrom(N, 1, "");
      Ends = intsFrom(N, 2, "");
      Axes = N.input(3) == NoId ? std::optional<std::vector<int64_t>>(std::vector<int64_t>{})
                                : intsFrom(N, 3, "");
      Steps = N.input(4) == NoId ? std::optional<std::vector<int64_t>>(std::vector<int64_t>{})
                                 : intsFrom(N, 4, "");
    } else {
      Starts = std::vector<int64_t>(N.getInts("starts").begin(), N.getInts("starts").end());
      Ends = std::vector<int64_t>(N.getInts("ends").begin(), N.getInts("ends").end());
      Axes = std::vector<int64_t>(N.getInts("axes").begin(), N.getInts("axes").end());
      Steps = std::vector<int64_t>{};
    }
    if (!Starts || !Ends || !Axes || !Steps)
      return unknown("slice bounds are not constant");
    if (Axes->empty())
      for (size_t I = 0; I != Starts->size(); ++I)
        Axes->push_back(I);
    if (Steps->empty())
      Steps->assign(Starts->size(), 1);
    if (Ends->size() != Starts->size() || Axes->size() != Starts->size() ||
        Steps->size() != Starts->size())
      return contradiction(N, "starts, ends, axes and steps differ in length");
    Dims Out = *X;
    Dims Begin(X->size(), 0), Step(X->size(), 1);
    for (size_t I = 0; I != Starts->size(); ++I) {
      int64_t A = normAxis((*Axes)[I], X->size());
      if (!axisOk(A, X->size()))
        return contradiction(N, "slice axis out of range");
      int64_t D = (*X)[A], St = (*Steps)[I];
      if (St == 0)
        return contradiction(N, "slice step is 0");
      auto Clamp = [&](int64_t V, bool IsEnd) {
        if (V < 0)
          V = V < -D ? (St > 0 ? 0 : -1) : V + D;
        if (St > 0)
          return std::clamp<int64_t>(V, 0, D);
        return std::clamp<int64_t>(V, -1, D - 1);
      };
      int64_t S = Clamp((*Starts)[I], false), E = Clamp((*Ends)[I], true);
      int64_t Count = St > 0 ? (E > S ? (E - S + St - 1) / St : 0)
                             : (S > E ? (S - E - St - 1) / -St : 0);
      Out[A] = Count;
      Begin[A] = S;
      Step[A] = St;
    }
    RuleResult R = same(Out);
    if (HostPtr C = constant(N, 0)) {
      uint64_t Count;
      numElements(Out, Count);
      if (Count <= MaxFoldElements) {
        auto F = std::make_shared<HostTensor>();
        F->Type = C->Type;
        F->Shape = Out;
        Dims Strides(X->size(), 1);
        for (int I = static_cast<int>(X->size()) - 2; I >= 0; --I)
          Strides[I] = Strides[I + 1] * (*X)[I + 1];
        Dims Idx(Out.size(), 0);
        for (uint64_t K = 0; K != Count; ++K) {
          int64_t Off = 0;
          for (size_t D = 0; D != Out.size(); ++D)
            Off += (Begin[D] + Idx[D] * Step[D]) * Strides[D];
          if (F->isInteger())
            F->Ints.push_back(C->integer(Off));
          else
            F->Reals.push_back(C->real(Off));
          for (int D = static_cast<int>(Out.size()) - 1; D >= 0; --D) {
            if (++Idx[D] < Out[D])
              break;
            Idx[D] = 0;
          }
        }
        R.Folded.push_back(F);
      }
    }
    return R;
  }
  case OpKind::Expand: {
    HostPtr S = constant(N, 1);
    if (!X)
      return unknown("input has no known shape");
    if (!S || !S->isInteger())
      return unknown("expand shape is not a constant");
    Dims Out;
    if (!broadcastShapes(*X, S->Ints, Out))
      return contradiction(N, formatShape(*X) + " does not expand to " +
                                  formatShape(S->Ints));
    return same(Out);
  }
  case OpKind::Gather: {
    const Dims *I = shape(N, 1);
    if (!X || !I)
      return unknown("an input has no known shape");
    int64_t Axis = normAxis(N.getInt("axis", 0), X->size());
    if (!axisOk(Axis, X->size()))
      return contradiction(N, "axis out of range for " + formatShape(*X));
    if (HostPtr Idx = constant(N, 1); Idx && Idx->isInteger())
      for (int64_t V : Idx->Ints)
        if (V < -(*X)[Axis] || V >= (*X)[Axis])
          return contradiction(N, "index " + llvm::Twine(V) +
                                      " is out of range for axis of size " +
                                      llvm::Twine((*X)[Axis]));
    Dims Out(X->begin(), X->begin() + Axis);
    Out.append(I->begin(), I->end());
    Out.append(X->begin() + Axis + 1, X->end());
    return same(Out);
  }
  case OpKind::GatherElements: {
    const Dims *I = shape(N, 1);
    if (!I)
      return unknown("indices have no known shape");
    return same(*I);
  }
  case OpKind::Constant: {
    if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor)
      return same(G.Tensors[A->Tensor].Shape);
    if (N.attr("value_float") || N.attr("value_int"))
      return same(Dims{});
    if (const Attribute *A = N.attr("value_floats"))
      return same(Dims{static_cast<int64_t>(A->Floats.size())});
    if (const Attribute *A = N.attr("value_ints"))
      return same(Dims{static_cast<int64_t>(A->Ints.size())});
    return unknown("constant has no value gradlint reads");
  }
  case OpKind::ConstantOfShape: {
    HostPtr S = constant(N, 0);
    if (!S || !S->isInteger())
      return unknown("shape input is not a constant");
    for (int64_t D : S->Ints)
      if (D < 0)
        return contradiction(N, "negative dimension in " + formatShape(S->Ints));
    return same(Dims(S->Ints.begin(), S->Ints.end()));
  }
  case OpKind::Shape: {
    if (!X)
      return unknown("input has no known shape");
    int64_t R = X->size();
    int64_t Start = std::clamp<int64_t>(normAxis(N.getInt("start", 0), R), 0, R);
    int64_t End = std::clamp<int64_t>(normAxis(N.getInt("end", R), R), 0, R);
    return same(Dims{std::max<int64_t>(0, End - Start)});
  }
  case OpKind::Size:
    return same(Dims{});
  case OpKind::Range:
    // The shape comes from the folded value (see inferNode).
    return unknown("range bounds are not constant");
  case OpKind::Attention: {
    // Opset 23: Q is [B, Sq, Hq*D] or [B, Hq, Sq, D].
    const Dims *K = shape(N, 1), *V = shape(N, 2);
    if (!X || !K || !V)
      return unknown("an input has no known shape");
    if (X->size() != K->size() || X->size() != V->size() ||
        (X->size() != 3 && X->size() != 4))
      return contradiction(N, "Q, K and V must all be 3-D or all 4-D");
    RuleResult R;
    int64_t B = (*X)[0];
    int64_t Past = 0;
    if (const Dims *PK = shape(N, 4))
      Past = PK->size() == 4 ? (*PK)[2] : 0;
    if (X->size() == 4) {
      int64_t Hq = (*X)[1], Sq = (*X)[2], Hkv = (*K)[1], Skv = (*K)[2] + Past;
      R.Shapes.push_back(Dims{B, Hq, Sq, V->back()});
      R.Shapes.push_back(Dims{B, Hkv, Skv, K->back()});
      R.Shapes.push_back(Dims{B, Hkv, Skv, V->back()});
      R.Shapes.push_back(Dims{B, Hq, Sq, Skv});
    } else {
      int64_t Hq = N.getInt("q_num_heads", 0), Hkv = N.getInt("kv_num_heads", 0);
      if (Hq <= 0 || Hkv <= 0 || (*X)[2] % Hq || (*K)[2] % Hkv || (*V)[2] % Hkv)
        return contradiction(N, "3-D inputs need q_num_heads and kv_num_heads "
                                "that divide the hidden sizes");
      int64_t Sq = (*X)[1], Skv = (*K)[1] + Past, Dv = (*V)[2] / Hkv;
      R.Shapes.push_back(Dims{B, Sq, Hq * Dv});
      R.Shapes.push_back(Dims{B, Hkv, Skv, (*K)[2] / Hkv});
      R.Shapes.push_back(Dims{B, Hkv, Skv, Dv});
      R.Shapes.push_back(Dims{B, Hq, Sq, Skv});
    }
    R.Shapes.resize(N.Outputs.size());
    return R;
  }
  case OpKind::MsAttention: {
    // input [B, S, Din], weights [Din, Dq+Dk+Dv]; output [B, S, Dv].
    const Dims *W = shape(N, 1);
    if (!X || !W)
      return unknown("an input has no known shape");
    if (X->size() != 3 || W->size() != 2 || (*W)[0] != (*X)[2])
      return contradiction(N, "input " + formatShape(*X) +
                                  " and weights " + formatShape(*W) +
                                  " do not fit");
    llvm::ArrayRef<int64_t> Sizes = N.getInts("qkv_hidden_sizes");
    int64_t Dv = Sizes.size() == 3 ? Sizes[2] : (*W)[1] / 3;
    RuleResult R;
    R.Shapes.push_back(Dims{(*X)[0], (*X)[1], Dv});
    R.Shapes.resize(N.Outputs.size());
    return R;
  }
  case OpKind::MultiHeadAttention: {
    if (!X)
      return unknown("query has no known shape");
    RuleResult R;
    const Dims *V = shape(N, 2);
    if (X->size() == 3 && V && V->size() == 3)
      R.Shapes.push_back(Dims{(*X)[0], (*X)[1], (*V)[2]});
    else if (X->size() == 3 && V && V->size() == 4) // [B, N, L, H]
      R.Shapes.push_back(Dims{(*X)[0], (*X)[1], (*V)[1] * (*V)[3]});
    else if (X->size() == 3)
      R.Shapes.push_back(*X);
    else if (X->size() == 5) // packed QKV [B, S, N, 3, H]
      R.Shapes.push_back(Dims{(*X)[0], (*X)[1], (*X)[2] * (*X)[4]});
    else
      return contradiction(N, "query must be 3-D or packed 5-D");
    R.Shapes.resize(N.Outputs.size());
    return R;
  }
  case OpKind::GroupQueryAttention: {
    if (!X || X->size() != 3)
      return unknown("query has no known 3-D shape");
    int64_t Hq = N.getInt("num_heads", 0), Hkv = N.getInt("kv_num_heads", 0);
    int64_t Hidden = (*X)[2];
    if (N.input(1) == NoId) { // packed QKV
      if (Hq <= 0 || Hkv < 0 || Hidden % (Hq + 2 * Hkv))
        return contradiction(N, "packed QKV width does not match the head counts");
      Hidden = Hidden / (Hq + 2 * Hkv) * Hq;
    }
    RuleResult R;
    R.Shapes.push_back(Dims{(*X)[0], (*X)[1], Hidden});
    R.Shapes.resize(N.Outputs.size());
    return R;
  }
  case OpKind::SoftmaxCrossEntropyLoss:
  case OpKind::NegativeLogLikelihoodLoss: {
    const Dims *L = shape(N, 1);
    if (!X || !L)
      return unknown("an input has no known shape");
    RuleResult R;
    R.Shapes.push_back(N.getString("reduction", "mean") == "none" ? *L : Dims{});
    if (N.Outputs.size() > 1)
      R.Shapes.push_back(*X);
    return R;
  }
  case OpKind::Unknown:
    return unknown("gradlint has no shape rule for " + N.OpType);
  }
  return unknown("no rule");
}

/// Element type of output I of N, given its inputs' types.
static DataType outputType(const Graph &G, const Node &N, unsigned I) {
  auto In = [&](unsigned K) {
    ValueId V = N.input(K);
    return V == NoId ? DataType::Undefined : G.Values[V].Type;
  };
  switch (N.Kind) {
  case OpKind::Cast:
    return isValidDataType(N.getInt("to", 0))
               ? static_cast<DataType>(N.getInt("to", 0))
               : DataType::Undefined;
  case OpKind::CastLike:
    return In(1);
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::Greater:
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Not:
    return DataType::Bool;
  case OpKind::Shape:
  case OpKind::Size:
    return DataType::Int64;
  case OpKind::Where:
    return In(1);
  case OpKind::Dropout:
    return I == 1 ? DataType::Bool : In(0);
  case OpKind::Constant:
    if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor)
      return G.Tensors[A->Tensor].Type;
    return N.attr("value_int") || N.attr("value_ints") ? DataType::Int64
                                                       : DataType::Float;
  case OpKind::ConstantOfShape:
    if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor)
      return G.Tensors[A->Tensor].Type;
    return DataType::Float;
  case OpKind::LayerNormalization:
    return I == 0 ? In(0)
                  : static_cast<DataType>(N.getInt("stash_type", 1));
  case OpKind::Unknown:
    return DataType::Undefined;
  default:
    return In(0);
  }
}

llvm::Error ShapeInferrer::inferNode(NodeId Id, ShapeReport &Report) {
  const Node &N = G.Nodes[Id];
  for (unsigned I = 0; I != N.Outputs.size(); ++I)
    if (N.Outputs[I] != NoId && G.Values[N.Outputs[I]].Type == DataType::Undefined)
      G.Values[N.Outputs[I]].Type = outputType(G, N, I);
  auto R = rule(N);
  if (!R)
    return R.takeError();
  // Fold on the host where every input is a known small constant.
  llvm::SmallVector<HostPtr, 4> In;
  for (ValueId V : N.Inputs)
    In.push_back(V == NoId ? nullptr : G.Values[V].Const);
  // Movement folds read the output shapes, so publish those first.
  for (size_t I = 0; I != N.Outputs.size() && I != R->Shapes.size(); ++I)
    if (N.Outputs[I] != NoId && R->Shapes[I]) {
      Value &V = G.Values[N.Outputs[I]];
      V.Shape = *R->Shapes[I];
      V.HasShape = true;
    }
  std::vector<HostPtr> Folded(R->Folded.begin(), R->Folded.end());
  if (Folded.empty())
    Folded = foldNode(G, N, In);
  for (size_t I = 0; I != N.Outputs.size(); ++I) {
    if (N.Outputs[I] == NoId)
      continue;
    Value &V = G.Values[N.Outputs[I]];
    if (I < Folded.size() && Folded[I]) {
      if (V.HasShape && V.Shape != Folded[I]->Shape)
        return contradiction(N, "folded value has shape " +
                                    formatShape(Folded[I]->Shape) +
                                    " but the rule gives " + formatShape(V.Shape));
      V.Const = Folded[I];
      V.Shape = Folded[I]->Shape;
      V.HasShape = true;
      if (V.Type == DataType::Undefined)
        V.Type = Folded[I]->Type;
    }
    if (!V.HasShape && N.Kind == OpKind::Unknown && V.HasDeclaredShape) {
      // Unknown op: trust the model's value_info when it is concrete or bound.
      Dims S;
      bool Ok = true;
      for (const DimSpec &D : V.DeclaredShape) {
        if (D.isKnown())
          S.push_back(D.Size);
        else if (auto It = Report.Dims.find(D.Symbol); It != Report.Dims.end())
          S.push_back(It->second);
        else
          Ok = false;
      }
      if (Ok) {
        V.Shape = S;
        V.HasShape = true;
      }
    }
    if (V.HasShape && V.HasDeclaredShape) {
      if (V.DeclaredShape.size() != V.Shape.size())
        return contradiction(N, "output '" + V.Name + "' is declared with rank " +
                                    llvm::Twine(V.DeclaredShape.size()) +
                                    " but has shape " + formatShape(V.Shape));
      for (size_t A = 0; A != V.Shape.size(); ++A)
        if (V.DeclaredShape[A].isKnown() && V.DeclaredShape[A].Size != V.Shape[A])
          return contradiction(N, "output '" + V.Name + "' is declared as " +
                                      "dimension " + llvm::Twine(V.DeclaredShape[A].Size) +
                                      " at axis " + llvm::Twine(A) + " but has shape " +
                                      formatShape(V.Shape));
    }
  }
  for (ValueId Out : N.Outputs)
    if (Out != NoId && G.Values[Out].HasShape && oversized(G.Values[Out].Shape))
      return contradiction(N, "output '" + G.Values[Out].Name + "' would have shape " +
                                  formatShape(G.Values[Out].Shape) +
                                  ", more than 2^40 elements");
  bool AnyUnknown = false;
  for (ValueId Out : N.Outputs)
    AnyUnknown |= Out != NoId && !G.Values[Out].HasShape;
  if (AnyUnknown)
    Report.Reasons.emplace_back(Id, R->Unknown.empty() ? "no shape rule applied"
                                                       : R->Unknown);
  return llvm::Error::success();
}

llvm::Expected<ShapeReport> ShapeInferrer::run(const DimBindings &User,
                                               const InputValues &Known) {
  ShapeReport Report;
  for (Value &V : G.Values) {
    V.HasShape = false;
    V.Shape.clear();
    V.Const.reset();
  }
  if (llvm::Error E = bindInputs(User, Report))
    return E;
  for (const auto &[Name, T] : Known) {
    ValueId Id = G.findValue(Name);
    if (Id == NoId || !G.Values[Id].IsInput || !T)
      continue;
    Value &V = G.Values[Id];
    if (V.Shape != T->Shape)
      return fileError(M.Info.Path, "input '" + Name + "' is given with shape " +
                                        formatShape(T->Shape) +
                                        " but the model binds it to " +
                                        formatShape(V.Shape));
    V.Const = T;
  }
  for (NodeId Id : G.Order)
    if (llvm::Error E = inferNode(Id, Report))
      return E;
  for (ValueId V = 0; V != G.Values.size(); ++V)
    if (!G.Values[V].HasShape)
      Report.Unknown.push_back(V);
  return Report;
}

llvm::Expected<ShapeReport> gradlint::inferShapes(Model &M,
                                                  const DimBindings &User,
                                                  const InputValues &Known) {
  return ShapeInferrer(M).run(User, Known);
}
