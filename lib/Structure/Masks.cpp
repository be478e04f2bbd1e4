//===- Masks.cpp - what an attention mask hides ---------------------------===//
//
// A mask that folded to numbers is read: it is causal when, in every
// [T_q, T_k] slice, exactly the entries above the (possibly offset) diagonal
// are hidden. A mask that did not fold is judged by what it is computed from:
//
//   Trilu, a triangular buffer, Less/Greater of Ranges     ─▶ causal
//   a graph input (attention_mask; not through Shape/Size)  ─▶ padding
//   anything else                                           ─▶ other
//
//===----------------------------------------------------------------------===//
#include "Match.h"
#include "gradlint/Shape/ShapeInference.h"

using namespace gradlint;
using namespace gradlint::structure;

namespace {

std::shared_ptr<const HostTensor> maskValues(const Graph &G, ValueId V) {
  if (G.Values[V].Const)
    return G.Values[V].Const;
  if (const TensorData *T = G.initializer(V))
    return hostTensorOf(*T);
  return nullptr;
}

/// A mask buffer's values: GPT-2 keeps a [1, 1, n_ctx, n_ctx] triangle,
/// larger than shape inference folds, so read up to 4M elements here.
std::shared_ptr<const HostTensor> bufferValues(const Graph &G, ValueId V) {
  const TensorData *T = G.initializer(V);
  if (!T || T->NumElements > (uint64_t(1) << 22) || T->Shape.size() < 2)
    return nullptr;
  auto H = std::make_shared<HostTensor>();
  H->Type = DataType::Double;
  H->Shape = T->Shape;
  if (!T->toDoubles(H->Reals) || H->Reals.size() != T->NumElements)
    return nullptr;
  return H;
}

/// Causal test over every trailing [Tq, Tk] slice of a folded mask.
MaskKind fromValues(const HostTensor &T, bool Boolean, bool HiddenWhen) {
  auto Hidden = [&](size_t I) {
    if (Boolean)
      return (T.integer(I) != 0) == HiddenWhen;
    return T.real(I) <= -1e4;
  };
  size_t Count = T.size();
  size_t NumHidden = 0;
  for (size_t I = 0; I < Count; ++I)
    NumHidden += Hidden(I);
  if (NumHidden == 0)
    return MaskKind::None;
  if (T.Shape.size() < 2)
    return MaskKind::Other;
  int64_t Tq = T.Shape[T.Shape.size() - 2], Tk = T.Shape.back();
  if (Tq <= 0 || Tk <= 0)
    return MaskKind::Other;
  for (int64_t Offset : {int64_t(0), Tk - Tq}) {
    bool Causal = true;
    for (size_t I = 0; I < Count && Causal; ++I) {
      int64_t J = static_cast<int64_t>(I % Tk);
      int64_t Row = static_cast<int64_t>((I / Tk) % Tq);
      Causal = Hidden(I) == (J > Row + Offset);
    }
    if (Causal)
      return MaskKind::Causal;
  }
  return MaskKind::Other;
}

/// Whether a 2-D-or-more buffer is triangular: nonzero exactly on and below
/// (or on and above) the diagonal.
bool isTriangularBuffer(const HostTensor &T) {
  if (T.Shape.size() < 2 || T.size() < 4)
    return false;
  int64_t R = T.Shape[T.Shape.size() - 2], C = T.Shape.back();
  if (R < 2 || C < 2)
    return false;
  bool Lower = true, Upper = true;
  for (size_t I = 0; I < T.size(); ++I) {
    int64_t J = static_cast<int64_t>(I % C);
    int64_t Row = static_cast<int64_t>((I / C) % R);
    bool Set = T.real(I) != 0;
    Lower &= Set == (J <= Row);
    Upper &= Set == (J >= Row);
  }
  return Lower || Upper;
}

MaskKind fromAncestry(const Graph &G, ValueId Mask) {
  bool Causal = false, Input = false;
  std::vector<char> Seen(G.Values.size(), 0);
  std::vector<ValueId> Stack{Mask};
  unsigned Visited = 0;
  while (!Stack.empty() && Visited++ < 512 && !Causal) {
    ValueId V = Stack.back();
    Stack.pop_back();
    if (V == NoId || Seen[V])
      continue;
    Seen[V] = 1;
    const Value &Val = G.Values[V];
    if (Val.IsInput)
      Input = true;
    if (Val.Initializer >= 0) {
      if (auto T = bufferValues(G, V))
        Causal |= isTriangularBuffer(*T);
      continue;
    }
    const Node *P = producer(G, V);
    if (!P || P->Kind == OpKind::Shape || P->Kind == OpKind::Size)
      continue;
    if (P->Kind == OpKind::Trilu)
      Causal = true;
    if (P->Kind == OpKind::Less || P->Kind == OpKind::Greater) {
      // Less(row index, column index) over two Ranges.
      auto FromRange = [&](ValueId X) {
        for (unsigned D = 0; D < 4 && X != NoId; ++D) {
          const Node *Q = producer(G, X);
          if (!Q)
            return false;
          if (Q->Kind == OpKind::Range)
            return true;
          X = Q->input(0);
        }
        return false;
      };
      Causal |= FromRange(P->input(0)) && FromRange(P->input(1));
    }
    for (ValueId In : P->Inputs)
      Stack.push_back(In);
  }
  if (Causal)
    return MaskKind::Causal;
  return Input ? MaskKind::Padding : MaskKind::Other;
}

} // namespace

MaskKind structure::classifyMask(const Graph &G, ValueId Mask, bool Boolean,
                                 bool HiddenWhen) {
  if (Mask == NoId)
    return MaskKind::None;
  if (auto T = maskValues(G, Mask))
    return fromValues(*T, Boolean, HiddenWhen);
  return fromAncestry(G, Mask);
}
