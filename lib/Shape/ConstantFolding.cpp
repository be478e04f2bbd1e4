//===- ConstantFolding.cpp - host evaluation of small constant subgraphs --===//
//
// Exporters compute reshape targets, slice bounds and attention scales with
// small integer subgraphs (Shape -> Gather -> Unsqueeze -> Concat). These are
// evaluated here, exactly, in int64 and double; the probe executor reuses the
// results rather than evaluating them again.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Shape/ShapeInference.h"
#include <cmath>
#include <numeric>

using namespace gradlint;

using HostPtr = std::shared_ptr<const HostTensor>;

std::shared_ptr<const HostTensor> gradlint::hostTensorOf(const TensorData &T) {
  if (T.NumElements > MaxFoldElements)
    return nullptr;
  auto H = std::make_shared<HostTensor>();
  H->Type = T.Type;
  H->Shape = T.Shape;
  bool Ok = isFloatingPoint(T.Type) ? T.toDoubles(H->Reals) : T.toInt64s(H->Ints);
  if (!Ok || H->size() != T.NumElements)
    return nullptr;
  return H;
}

namespace {

HostPtr makeInts(Dims Shape, std::vector<int64_t> V,
                 DataType T = DataType::Int64) {
  auto H = std::make_shared<HostTensor>();
  H->Type = T;
  H->Shape = std::move(Shape);
  H->Ints = std::move(V);
  return H;
}

HostPtr makeLike(DataType T, Dims Shape) {
  auto H = std::make_shared<HostTensor>();
  H->Type = T;
  H->Shape = std::move(Shape);
  uint64_t N;
  numElements(H->Shape, N);
  if (H->isInteger())
    H->Ints.assign(N, 0);
  else
    H->Reals.assign(N, 0);
  return H;
}

/// Row-major strides.
Dims stridesOf(llvm::ArrayRef<int64_t> Shape) {
  Dims S(Shape.size(), 1);
  for (int I = static_cast<int>(Shape.size()) - 2; I >= 0; --I)
    S[I] = S[I + 1] * Shape[I + 1];
  return S;
}

/// Offset into a tensor of shape From for the broadcast index Idx of shape To.
int64_t broadcastOffset(llvm::ArrayRef<int64_t> Idx, llvm::ArrayRef<int64_t> To,
                        llvm::ArrayRef<int64_t> From) {
  Dims S = stridesOf(From);
  int64_t Off = 0;
  size_t Lead = To.size() - From.size();
  for (size_t I = 0; I != From.size(); ++I)
    if (From[I] != 1)
      Off += Idx[I + Lead] * S[I];
  return Off;
}

/// Visits every multi-index of Shape in row-major order.
template <typename Fn> void forEachIndex(llvm::ArrayRef<int64_t> Shape, Fn &&F) {
  uint64_t N;
  if (!numElements(Shape, N) || N == 0)
    return;
  Dims Idx(Shape.size(), 0);
  for (uint64_t K = 0; K != N; ++K) {
    F(Idx, K);
    for (int D = static_cast<int>(Shape.size()) - 1; D >= 0; --D) {
      if (++Idx[D] < Shape[D])
        break;
      Idx[D] = 0;
    }
  }
}

/// Broadcasting elementwise map over N inputs; IntFn/RealFn return false to give up.
template <typename Fn>
HostPtr mapBroadcast(llvm::ArrayRef<HostPtr> In, DataType OutType, Fn &&F) {
  Dims Shape = In[0]->Shape;
  for (size_t I = 1; I != In.size(); ++I) {
    Dims Next;
    if (!broadcastShapes(Shape, In[I]->Shape, Next))
      return nullptr;
    Shape = Next;
  }
  auto Out = std::const_pointer_cast<HostTensor>(makeLike(OutType, Shape));
  bool Ok = true;
  std::vector<double> Args(In.size());
  forEachIndex(Shape, [&](llvm::ArrayRef<int64_t> Idx, uint64_t K) {
    for (size_t I = 0; I != In.size(); ++I)
      Args[I] = In[I]->real(broadcastOffset(Idx, Shape, In[I]->Shape));
    double R;
    if (!F(Args, Idx, Shape, R)) {
      Ok = false;
      return;
    }
    if (Out->isInteger())
      Out->Ints[K] = static_cast<int64_t>(R);
    else
      Out->Reals[K] = R;
  });
  return Ok ? Out : nullptr;
}

/// Integer binary op with exact int64 arithmetic.
HostPtr intBinary(OpKind K, const HostPtr &A, const HostPtr &B) {
  Dims Shape;
  if (!broadcastShapes(A->Shape, B->Shape, Shape))
    return nullptr;
  auto Out = std::const_pointer_cast<HostTensor>(makeLike(A->Type, Shape));
  bool Ok = true;
  forEachIndex(Shape, [&](llvm::ArrayRef<int64_t> Idx, uint64_t I) {
    int64_t X = A->Ints[broadcastOffset(Idx, Shape, A->Shape)];
    int64_t Y = B->Ints[broadcastOffset(Idx, Shape, B->Shape)];
    int64_t R = 0;
    switch (K) {
    case OpKind::Add: Ok &= !__builtin_add_overflow(X, Y, &R); break;
    case OpKind::Sub: Ok &= !__builtin_sub_overflow(X, Y, &R); break;
    case OpKind::Mul: Ok &= !__builtin_mul_overflow(X, Y, &R); break;
    case OpKind::Div:
      if (Y == 0 || (X == INT64_MIN && Y == -1)) Ok = false;
      else R = X / Y; // ONNX integer Div truncates
      break;
    case OpKind::Max: R = std::max(X, Y); break;
    case OpKind::Min: R = std::min(X, Y); break;
    case OpKind::Sum: Ok &= !__builtin_add_overflow(X, Y, &R); break;
    case OpKind::Mod:
      // fmod=0: the result takes the divisor's sign, as in Python.
      if (Y == 0) Ok = false;
      else { R = X % Y; if (R != 0 && ((R < 0) != (Y < 0))) R += Y; }
      break;
    case OpKind::Equal: R = X == Y; break;
    case OpKind::Less: R = X < Y; break;
    case OpKind::Greater: R = X > Y; break;
    case OpKind::And: R = X && Y; break;
    case OpKind::Or: R = X || Y; break;
    default: Ok = false; break;
    }
    Out->Ints[I] = R;
  });
  return Ok ? Out : nullptr;
}

int64_t normAxis(int64_t Axis, size_t Rank) {
  return Axis < 0 ? Axis + static_cast<int64_t>(Rank) : Axis;
}

/// Copies elements of In selected by a per-output index map.
template <typename Fn> HostPtr gatherBy(const HostPtr &In, Dims OutShape, Fn &&SrcOf) {
  auto Out = std::const_pointer_cast<HostTensor>(makeLike(In->Type, OutShape));
  forEachIndex(OutShape, [&](llvm::ArrayRef<int64_t> Idx, uint64_t K) {
    int64_t Src = SrcOf(Idx);
    if (Out->isInteger())
      Out->Ints[K] = In->Ints[Src];
    else
      Out->Reals[K] = In->Reals[Src];
  });
  return Out;
}

HostPtr castTo(const HostPtr &In, DataType To) {
  auto Out = std::make_shared<HostTensor>();
  Out->Type = To;
  Out->Shape = In->Shape;
  for (size_t I = 0; I != In->size(); ++I) {
    if (!isFloatingPoint(To)) {
      double V = In->real(I);
      int64_t IV = In->isInteger() ? In->Ints[I] : static_cast<int64_t>(V);
      Out->Ints.push_back(To == DataType::Bool ? IV != 0 || V != 0 : IV);
    } else {
      Out->Reals.push_back(In->real(I));
    }
  }
  return Out;
}

} // namespace

std::vector<HostPtr> gradlint::foldNode(const Graph &G, const Node &N,
                                        llvm::ArrayRef<HostPtr> In) {
  auto Has = [&](unsigned I) { return I < In.size() && In[I]; };
  auto One = [](HostPtr P) { return std::vector<HostPtr>{P ? P : nullptr}; };
  bool ShapeOnly = N.Kind == OpKind::Shape || N.Kind == OpKind::Size;
  if (N.Kind != OpKind::Constant && !ShapeOnly && !Has(0))
    return {};
  for (unsigned I = 0; I != In.size(); ++I)
    if (N.Inputs[I] != NoId && !In[I] && !ShapeOnly)
      return {};

  switch (N.Kind) {
  case OpKind::Identity:
  case OpKind::Dropout:
    return One(In[0]);
  case OpKind::Cast: {
    int64_t To = N.getInt("to", 0);
    if (!isValidDataType(To))
      return {};
    return One(castTo(In[0], static_cast<DataType>(To)));
  }
  case OpKind::CastLike:
    return One(castTo(In[0], In[1]->Type));
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::Sum:
  case OpKind::Mod:
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::Greater:
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Pow: {
    if (In.size() != 2 || !Has(1))
      return {};
    bool Cmp = N.Kind == OpKind::Equal || N.Kind == OpKind::Less ||
               N.Kind == OpKind::Greater || N.Kind == OpKind::And ||
               N.Kind == OpKind::Or;
    if (In[0]->isInteger() && In[1]->isInteger() && N.Kind != OpKind::Pow) {
      HostPtr R = intBinary(N.Kind, In[0], In[1]);
      if (R && Cmp)
        std::const_pointer_cast<HostTensor>(R)->Type = DataType::Bool;
      return One(R);
    }
    DataType T = Cmp ? DataType::Bool : In[0]->Type;
    OpKind K = N.Kind;
    return One(mapBroadcast(In, T, [K](llvm::ArrayRef<double> A, auto, auto,
                                        double &R) {
      switch (K) {
      case OpKind::Add: R = A[0] + A[1]; break;
      case OpKind::Sub: R = A[0] - A[1]; break;
      case OpKind::Mul: R = A[0] * A[1]; break;
      case OpKind::Div: R = A[0] / A[1]; break;
      case OpKind::Max: R = std::max(A[0], A[1]); break;
      case OpKind::Min: R = std::min(A[0], A[1]); break;
      case OpKind::Sum: R = A[0] + A[1]; break;
      case OpKind::Mod: R = std::fmod(A[0], A[1]); break;
      case OpKind::Pow: R = std::pow(A[0], A[1]); break;
      case OpKind::Equal: R = A[0] == A[1]; break;
      case OpKind::Less: R = A[0] < A[1]; break;
      case OpKind::Greater: R = A[0] > A[1]; break;
      case OpKind::And: R = A[0] != 0 && A[1] != 0; break;
      case OpKind::Or: R = A[0] != 0 || A[1] != 0; break;
      default: return false;
      }
      return true;
    }));
  }
  case OpKind::Sqrt:
  case OpKind::Reciprocal:
  case OpKind::Neg:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Abs:
  case OpKind::Ceil:
  case OpKind::Floor:
  case OpKind::Not: {
    OpKind K = N.Kind;
    if (In[0]->isInteger() && K != OpKind::Neg && K != OpKind::Abs &&
        K != OpKind::Not && K != OpKind::Ceil && K != OpKind::Floor)
      return {};
    return One(mapBroadcast(In.take_front(1), In[0]->Type,
                            [K](llvm::ArrayRef<double> A, auto, auto, double &R) {
                              switch (K) {
                              case OpKind::Sqrt: R = std::sqrt(A[0]); break;
                              case OpKind::Reciprocal: R = 1.0 / A[0]; break;
                              case OpKind::Neg: R = -A[0]; break;
                              case OpKind::Exp: R = std::exp(A[0]); break;
                              case OpKind::Log: R = std::log(A[0]); break;
                              case OpKind::Abs: R = std::fabs(A[0]); break;
                              case OpKind::Ceil: R = std::ceil(A[0]); break;
                              case OpKind::Floor: R = std::floor(A[0]); break;
                              case OpKind::Not: R = A[0] == 0; break;
                              default: return false;
                              }
                              return true;
                            }));
  }
  case OpKind::Where: {
    if (In.size() != 3 || !Has(1) || !Has(2))
      return {};
    return One(mapBroadcast(In, In[1]->Type,
                            [](llvm::ArrayRef<double> A, auto, auto, double &R) {
                              R = A[0] != 0 ? A[1] : A[2];
                              return true;
                            }));
  }
  case OpKind::Shape: {
    const Value &V = G.Values[N.Inputs[0]];
    if (!V.HasShape)
      return {};
    int64_t R = V.Shape.size();
    int64_t Start = normAxis(N.getInt("start", 0), R);
    int64_t End = N.attr("end") ? normAxis(N.getInt("end", R), R) : R;
    Start = std::clamp<int64_t>(Start, 0, R);
    End = std::clamp<int64_t>(End, 0, R);
    std::vector<int64_t> S;
    for (int64_t I = Start; I < End; ++I)
      S.push_back(V.Shape[I]);
    Dims Sh{static_cast<int64_t>(S.size())};
    return One(makeInts(Sh, S));
  }
  case OpKind::Size: {
    const Value &V = G.Values[N.Inputs[0]];
    uint64_t Count;
    if (!V.HasShape || !numElements(V.Shape, Count))
      return {};
    return One(makeInts({}, {static_cast<int64_t>(Count)}));
  }
  case OpKind::Constant: {
    if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor)
      return One(hostTensorOf(G.Tensors[A->Tensor]));
    if (const Attribute *A = N.attr("value_int"))
      return One(makeInts({}, {A->I}));
    if (const Attribute *A = N.attr("value_ints"))
      return One(makeInts({static_cast<int64_t>(A->Ints.size())}, A->Ints));
    auto H = std::make_shared<HostTensor>();
    H->Type = DataType::Float;
    if (const Attribute *A = N.attr("value_float")) {
      H->Reals = {A->F};
      return One(H);
    }
    if (const Attribute *A = N.attr("value_floats")) {
      H->Shape = {static_cast<int64_t>(A->Floats.size())};
      H->Reals.assign(A->Floats.begin(), A->Floats.end());
      return One(H);
    }
    return {};
  }
  case OpKind::ConstantOfShape: {
    Dims Shape(In[0]->Ints.begin(), In[0]->Ints.end());
    uint64_t Count;
    if (!In[0]->isInteger() || !numElements(Shape, Count) ||
        Count > MaxFoldElements)
      return {};
    HostPtr Fill;
    if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor)
      Fill = hostTensorOf(G.Tensors[A->Tensor]);
    DataType T = Fill ? Fill->Type : DataType::Float;
    auto Out = std::const_pointer_cast<HostTensor>(makeLike(T, Shape));
    if (Fill && Fill->size() == 1) {
      if (Out->isInteger())
        std::fill(Out->Ints.begin(), Out->Ints.end(), Fill->integer(0));
      else
        std::fill(Out->Reals.begin(), Out->Reals.end(), Fill->real(0));
    }
    return One(Out);
  }
  case OpKind::Range: {
    if (In.size() != 3 || !Has(0) || !Has(1) || !Has(2))
      return {};
    if (In[0]->isInteger()) {
      int64_t S = In[0]->Ints[0], L = In[1]->Ints[0], D = In[2]->Ints[0];
      if (D == 0)
        return {};
      std::vector<int64_t> V;
      for (int64_t X = S; (D > 0 ? X < L : X > L) && V.size() < MaxFoldElements;
           X += D)
        V.push_back(X);
      Dims Sh{static_cast<int64_t>(V.size())};
      return One(makeInts(Sh, V, In[0]->Type));
    }
    double S = In[0]->Reals[0], L = In[1]->Reals[0], D = In[2]->Reals[0];
    if (D == 0)
      return {};
    double Count = std::max(std::ceil((L - S) / D), 0.0);
    if (Count > MaxFoldElements)
      return {};
    auto Out = std::const_pointer_cast<HostTensor>(
        makeLike(In[0]->Type, {static_cast<int64_t>(Count)}));
    for (int64_t I = 0; I < static_cast<int64_t>(Count); ++I)
      Out->Reals[I] = S + I * D;
    return One(Out);
  }
  case OpKind::Trilu: {
    const HostPtr &X = In[0];
    if (X->Shape.size() < 2)
      return {};
    int64_t K = 0;
    if (N.input(1) != NoId) {
      if (!Has(1) || In[1]->size() != 1)
        return {};
      K = In[1]->integer(0);
    }
    bool Upper = N.getInt("upper", 1);
    int64_t Rows = X->Shape[X->Shape.size() - 2], Cols = X->Shape.back();
    auto Out = std::make_shared<HostTensor>(*X);
    for (size_t E = 0; E != Out->size(); ++E) {
      int64_t J = E % Cols, I = (E / Cols) % Rows;
      bool Keep = Upper ? J - I >= K : J - I <= K;
      if (!Keep) {
        if (Out->isInteger())
          Out->Ints[E] = 0;
        else
          Out->Reals[E] = 0;
      }
    }
    return One(Out);
  }
  case OpKind::Unsqueeze:
  case OpKind::Squeeze:
  case OpKind::Reshape:
  case OpKind::Flatten:
  case OpKind::Expand:
  case OpKind::Transpose:
  case OpKind::Concat:
  case OpKind::Gather:
  case OpKind::Slice:
  case OpKind::Split: {
    // Movement ops: the output shape was inferred already; map indices.
    llvm::SmallVector<Dims, 2> OutShapes;
    for (ValueId Out : N.Outputs) {
      if (Out == NoId || !G.Values[Out].HasShape)
        return {};
      OutShapes.push_back(G.Values[Out].Shape);
    }
    uint64_t Count;
    if (!numElements(OutShapes[0], Count) || Count > MaxFoldElements)
      return {};
    switch (N.Kind) {
    case OpKind::Unsqueeze:
    case OpKind::Squeeze:
    case OpKind::Reshape:
    case OpKind::Flatten: {
      auto Out = std::make_shared<HostTensor>(*In[0]);
      Out->Shape = OutShapes[0];
      return One(Out);
    }
    case OpKind::Expand: {
      const HostPtr &X = In[0];
      Dims To = OutShapes[0];
      return One(gatherBy(X, To, [&](llvm::ArrayRef<int64_t> Idx) {
        return broadcastOffset(Idx, To, X->Shape);
      }));
    }
    case OpKind::Transpose: {
      const HostPtr &X = In[0];
      llvm::ArrayRef<int64_t> Perm = N.getInts("perm");
      size_t R = X->Shape.size();
      Dims P;
      for (size_t I = 0; I != R; ++I)
        P.push_back(Perm.empty() ? R - 1 - I : Perm[I]);
      Dims S = stridesOf(X->Shape);
      return One(gatherBy(X, OutShapes[0], [&](llvm::ArrayRef<int64_t> Idx) {
        int64_t Off = 0;
        for (size_t I = 0; I != R; ++I)
          Off += Idx[I] * S[P[I]];
        return Off;
      }));
    }
    case OpKind::Concat: {
      int64_t Axis = normAxis(N.getInt("axis", 0), OutShapes[0].size());
      auto Out = std::const_pointer_cast<HostTensor>(
          makeLike(In[0]->Type, OutShapes[0]));
      forEachIndex(OutShapes[0], [&](llvm::ArrayRef<int64_t> Idx, uint64_t K) {
        int64_t A = Idx[Axis];
        size_t Src = 0;
        while (Src < In.size() && A >= In[Src]->Shape[Axis])
          A -= In[Src++]->Shape[Axis];
        Dims Local(Idx.begin(), Idx.end());
        Local[Axis] = A;
        Dims S = stridesOf(In[Src]->Shape);
        int64_t Off = 0;
        for (size_t I = 0; I != Local.size(); ++I)
          Off += Local[I] * S[I];
        if (Out->isInteger())
          Out->Ints[K] = In[Src]->integer(Off);
        else
          Out->Reals[K] = In[Src]->real(Off);
      });
      return One(Out);
    }
    case OpKind::Gather: {
      const HostPtr &X = In[0];
      if (!Has(1) || !In[1]->isInteger())
        return {};
      int64_t Axis = normAxis(N.getInt("axis", 0), X->Shape.size());
      Dims S = stridesOf(X->Shape);
      size_t IR = In[1]->Shape.size();
      Dims IS = stridesOf(In[1]->Shape);
      bool Ok = true;
      HostPtr Out = gatherBy(X, OutShapes[0], [&](llvm::ArrayRef<int64_t> Idx) {
        int64_t IOff = 0;
        for (size_t I = 0; I != IR; ++I)
          IOff += Idx[Axis + I] * IS[I];
        int64_t Sel = In[1]->Ints[IOff];
        if (Sel < 0)
          Sel += X->Shape[Axis];
        if (Sel < 0 || Sel >= X->Shape[Axis]) {
          Ok = false;
          return int64_t(0);
        }
        int64_t Off = Sel * S[Axis];
        for (int64_t I = 0; I < Axis; ++I)
          Off += Idx[I] * S[I];
        for (size_t I = Axis + 1; I < X->Shape.size(); ++I)
          Off += Idx[I + IR - 1] * S[I];
        return Off;
      });
      return Ok ? One(Out) : std::vector<HostPtr>{};
    }
    case OpKind::Slice:
    case OpKind::Split:
      return {}; // handled by the shape rules, which know starts and steps
    default:
      return {};
    }
  }
  default:
    return {};
  }
}
