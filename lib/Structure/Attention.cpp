//===- Attention.cpp - scaled dot-product attention, fused and unfused ----===//
//
// Unfused attention is anchored at a Softmax over the last axis and read off
// three paths, each a table of the ops allowed on it:
//
//   x ─▶ Wq ─[Split|Slice]─▶ Reshape ─▶ Transpose ─▶ [RoPE] ─▶ [Mul √c | Div] ─┐
//   x ─▶ Wk ─[Split|Slice]─▶ Reshape ─▶ Transpose ─▶ [RoPE] ─▶ [Mul √c | Div] ─┴─▶ MatMul (QKᵀ)
//                                                                                   │
//      ┌── [Mul c | Div c] ◀── [Add mask | Where(cond, −∞, ·)] ◀── [Cast] ◀─────────┘
//      ▼
//   Softmax ─▶ [Cast | Where(row masked, 0, ·)] ─▶ MatMul (P·V) ◀── Reshape/Transpose ◀── Wv ◀── x
//                                                     │
//                        Transpose ─▶ Reshape ─▶ Wo [+ b] ─▶ [Reshape ─▶ Transpose] ─▶ output
//
// The fused forms (com.microsoft Attention, MultiHeadAttention,
// GroupQueryAttention, ONNX Attention-23) are read from a table of their
// operand positions and attributes.
//
//===----------------------------------------------------------------------===//
#include "Match.h"
#include <cmath>

using namespace gradlint;
using namespace gradlint::structure;

namespace {

/// What an op on a path does to the logits.
enum class StepKind { Pass, Scale, InvScale, Mask, Softcap, Rotary };

struct PathStep {
  OpKind Op;
  StepKind Kind;
};

template <size_t N>
const PathStep *lookupStep(const PathStep (&Table)[N], OpKind K) {
  for (const PathStep &S : Table)
    if (S.Op == K)
      return &S;
  return nullptr;
}

// QKᵀ ─▶ … ─▶ Softmax: logit scaling, masks, softcap, casts.
const PathStep LogitSteps[] = {
    {OpKind::Mul, StepKind::Scale},     {OpKind::Div, StepKind::InvScale},
    {OpKind::Add, StepKind::Mask},      {OpKind::Where, StepKind::Mask},
    {OpKind::Tanh, StepKind::Softcap},  {OpKind::Cast, StepKind::Pass},
    {OpKind::Identity, StepKind::Pass}, {OpKind::Reshape, StepKind::Pass},
};

// projection ─▶ … ─▶ Q or Kᵀ (or V): head split, √scale, rotary embedding.
const PathStep HeadSteps[] = {
    {OpKind::Reshape, StepKind::Pass},   {OpKind::Transpose, StepKind::Pass},
    {OpKind::Squeeze, StepKind::Pass},   {OpKind::Unsqueeze, StepKind::Pass},
    {OpKind::Expand, StepKind::Pass},    {OpKind::Flatten, StepKind::Pass},
    {OpKind::Cast, StepKind::Pass},      {OpKind::Identity, StepKind::Pass},
    {OpKind::Dropout, StepKind::Pass},   {OpKind::Mul, StepKind::Scale},
    {OpKind::Div, StepKind::InvScale},   {OpKind::Add, StepKind::Rotary},
};

// Softmax ─▶ … ─▶ P·V.
const PathStep ProbSteps[] = {
    {OpKind::Cast, StepKind::Pass},
    {OpKind::Identity, StepKind::Pass},
    {OpKind::Dropout, StepKind::Pass},
    {OpKind::Where, StepKind::Pass},
};

// Rotary embedding, rotate-half form (GPT-NeoX, Llama):
//
//   x ─┬─▶ Mul(x, cos) ───────────────────────────────────────────┐
//      ├─▶ Slice|Split (upper half) ─▶ Neg ─┐                      ├─▶ Add ─▶ x'
//      └─▶ Slice|Split (lower half) ────────┴─▶ Concat ─▶ Mul(·, sin)┘
const PatternRow RotaryPattern[] = {
    {"y", OpKind::Add, {"xc", "rs"}},
    {"xc", OpKind::Mul, {"x", "*"}},
    {"rs", OpKind::Mul, {"rot", "*"}},
    {"rot", OpKind::Concat, {"neg", "lo"}},
    {"neg", OpKind::Neg, {"hi"}},
    {"hi", OpKind::Slice, {"x"}},
    {"hi", OpKind::Split, {"x"}},
    {"lo", OpKind::Slice, {"x"}},
    {"lo", OpKind::Split, {"x"}},
};

/// Whether V is a scalar-like tensor (every dimension 1) — a scale factor
/// that did not fold to a number.
bool isScalarLike(const Graph &G, ValueId V) {
  const Value &Val = G.Values[V];
  return Val.HasShape && llvm::all_of(Val.Shape, [](int64_t D) { return D == 1; });
}

/// A multiplier on the path: Mul(path, c), Mul(c, path) or Div(path, c).
struct Factor {
  ValueId Path = NoId;
  double Value = 1;
  bool Known = true;
};

std::optional<Factor> factorOf(const Graph &G, const Node &N, bool Inverse) {
  for (unsigned P = 0; P < 2; ++P) {
    if (Inverse && P == 1)
      break;
    ValueId Path = N.input(P), C = N.input(1 - P);
    if (Path == NoId || C == NoId || isConstant(G, Path))
      continue;
    if (auto U = uniformConstant(G, C)) {
      if (Inverse && *U == 0)
        return std::nullopt;
      return Factor{Path, Inverse ? 1 / *U : *U, true};
    }
    if (isConstant(G, C))
      return std::nullopt; // a non-uniform constant: not a scale (RoPE's cos)
    if (isScalarLike(G, C) && !isScalarLike(G, Path))
      return Factor{Path, 1, false};
  }
  return std::nullopt;
}

struct MaskUse {
  ValueId Mask = NoId;
  bool Boolean = false, HiddenWhen = false;
};

struct LogitPath {
  NodeId Scores = NoId;
  double Scale = 1;
  bool Known = true;
  double Softcap = 0;
  std::vector<NodeId> Nodes, MaskNodes;
  std::vector<MaskUse> Masks;
};

bool isScoresProduct(const Graph &G, const Node &N) {
  return N.Kind == OpKind::MatMul && !isConstant(G, N.input(0)) &&
         !isConstant(G, N.input(1));
}

/// Walks from the Softmax input up to QKᵀ. Add masks may put the logits on
/// either side, so the walk backtracks over that choice.
bool walkLogits(const Graph &G, ValueId V, LogitPath &P, double LastFactor,
                unsigned Depth) {
  const Node *N = producer(G, V);
  if (!N || Depth > 16)
    return false;
  NodeId Id = G.Values[V].Producer;
  if (isScoresProduct(G, *N)) {
    P.Scores = Id;
    return true;
  }
  const PathStep *S = lookupStep(LogitSteps, N->Kind);
  if (!S)
    return false;
  LogitPath Saved = P;
  P.Nodes.push_back(Id);
  switch (S->Kind) {
  case StepKind::Pass:
    if (walkLogits(G, N->input(0), P, LastFactor, Depth + 1))
      return true;
    break;
  case StepKind::Scale:
  case StepKind::InvScale: {
    auto F = factorOf(G, *N, S->Kind == StepKind::InvScale);
    if (!F)
      break;
    P.Scale *= F->Value;
    P.Known &= F->Known;
    if (walkLogits(G, F->Path, P, F->Value, Depth + 1))
      return true;
    break;
  }
  case StepKind::Softcap:
    P.Softcap = LastFactor;
    if (walkLogits(G, N->input(0), P, 1, Depth + 1))
      return true;
    break;
  case StepKind::Mask:
    if (N->Kind == OpKind::Where) {
      // Where(cond, fill, logits) hides where cond holds; Where(cond, logits,
      // fill) where it does not.
      for (unsigned Path = 1; Path <= 2; ++Path) {
        auto Fill = uniformConstant(G, N->input(3 - Path));
        if (!Fill || *Fill > -1e4)
          continue;
        LogitPath Try = P;
        Try.MaskNodes.push_back(Id);
        Try.Masks.push_back({N->input(0), true, Path == 2});
        if (walkLogits(G, N->input(Path), Try, LastFactor, Depth + 1)) {
          P = std::move(Try);
          return true;
        }
      }
      break;
    }
    for (unsigned Path = 0; Path < 2; ++Path) {
      ValueId M = N->input(1 - Path);
      if (isConstant(G, N->input(Path)))
        continue;
      LogitPath Try = P;
      if (uniformConstant(G, M)) {
        // Adding a constant does not change the softmax.
      } else {
        Try.MaskNodes.push_back(Id);
        Try.Masks.push_back({M, false, false});
      }
      if (walkLogits(G, N->input(Path), Try, LastFactor, Depth + 1)) {
        P = std::move(Try);
        return true;
      }
    }
    break;
  case StepKind::Rotary:
    break;
  }
  P = std::move(Saved);
  return false;
}

/// Walks from an operand of QKᵀ or P·V up to its projection.
struct HeadPath {
  ValueId Source = NoId; ///< where the walk stopped
  const Linear *L = nullptr;
  std::optional<LinearPart> Part;
  double Scale = 1;
  bool Known = true;
  bool Rotary = false;
  std::vector<NodeId> Nodes;

  int64_t width() const {
    if (Part && Part->Width)
      return Part->Width;
    if (L)
      return L->OutFeatures;
    return 0;
  }
};

HeadPath walkHead(const Graph &G, const Linears &Ls, ValueId V) {
  HeadPath H;
  for (unsigned Depth = 0; V != NoId && Depth < 32; ++Depth) {
    if (const Linear *L = Ls.byOut(V)) {
      H.L = L;
      break;
    }
    if (auto P = linearPartOf(G, Ls, V)) {
      H.Part = P;
      H.L = P->L;
      H.Nodes.push_back(P->Cut);
      break;
    }
    const Node *N = producer(G, V);
    const PathStep *S = N ? lookupStep(HeadSteps, N->Kind) : nullptr;
    if (!S || isConstant(G, V))
      break;
    NodeId Id = G.Values[V].Producer;
    ValueId Next = NoId;
    switch (S->Kind) {
    case StepKind::Pass:
      Next = N->input(0);
      break;
    case StepKind::Scale:
    case StepKind::InvScale:
      if (auto F = factorOf(G, *N, S->Kind == StepKind::InvScale)) {
        H.Scale *= F->Value;
        H.Known &= F->Known;
        Next = F->Path;
      }
      break;
    case StepKind::Rotary:
      if (auto M = matchPattern(G, RotaryPattern, V)) {
        H.Rotary = true;
        H.Nodes.insert(H.Nodes.end(), M->Nodes.begin(), M->Nodes.end());
        Next = M->value("x");
        Id = NoId;
      }
      break;
    case StepKind::Mask:
    case StepKind::Softcap:
      break;
    }
    if (Next == NoId)
      break;
    addNode(H.Nodes, Id);
    V = Next;
  }
  H.Source = V;
  if (H.L)
    H.Nodes.insert(H.Nodes.end(), H.L->Nodes.begin(), H.L->Nodes.end());
  return H;
}

int64_t dim(const Graph &G, ValueId V, int I) {
  if (V == NoId)
    return 0;
  const Value &Val = G.Values[V];
  int R = static_cast<int>(Val.Shape.size());
  if (!Val.HasShape || I >= R || I < -R)
    return 0;
  return Val.Shape[I < 0 ? R + I : I];
}

int64_t rank(const Graph &G, ValueId V) {
  return V != NoId && G.Values[V].HasShape
             ? static_cast<int64_t>(G.Values[V].Shape.size())
             : -1;
}

MaskKind strongerMask(MaskKind A, MaskKind B) {
  auto Rank = [](MaskKind K) {
    switch (K) {
    case MaskKind::None: return 0;
    case MaskKind::Other: return 1;
    case MaskKind::Padding: return 2;
    case MaskKind::Causal: return 3;
    }
    return 0;
  };
  return Rank(A) >= Rank(B) ? A : B;
}

/// Fills projections, heads and input from the q/k/v paths.
void useHeadPaths(const Graph &G, AttentionInfo &A, const HeadPath &Q,
                  const HeadPath &K, const HeadPath &V) {
  // The projected value is where the walk stopped: the projection's output,
  // or the Split/Slice output of a fused one.
  auto Fill = [&](const HeadPath &H, NodeId &Proj, ValueId &W, ValueId &B,
                  ValueId &Value) {
    if (!H.L)
      return;
    Proj = H.L->Product;
    W = H.L->Weight;
    B = H.L->Bias;
    Value = H.Source;
  };
  Fill(Q, A.Q, A.QWeight, A.QBias, A.QValue);
  Fill(K, A.K, A.KWeight, A.KBias, A.KValue);
  Fill(V, A.V, A.VWeight, A.VBias, A.VValue);
  A.FusedQkv = Q.L && Q.L == K.L && K.L == V.L;
  A.Rotary = Q.Rotary || K.Rotary;
  for (const HeadPath *H : {&Q, &K, &V})
    A.Nodes.insert(A.Nodes.end(), H->Nodes.begin(), H->Nodes.end());
  A.Input = layoutRoot(G, Q.L ? Q.L->In : Q.Source);
  // Only a key projection proves what the keys are computed from.
  A.KvInput = K.L ? layoutRoot(G, K.L->In) : A.Input;
}

/// Heads from the projected width (a projection, or a [B, T, H·d] tensor the
/// walk started from), else from a 4-D [B, H, T, d] tensor.
int64_t headsOf(const Graph &G, const HeadPath &H, ValueId Operand,
                int64_t HeadDim) {
  int64_t W = H.width();
  if (W <= 0 && rank(G, H.Source) == 3)
    W = dim(G, H.Source, 2);
  if (W > 0 && HeadDim > 0 && W % HeadDim == 0)
    return W / HeadDim;
  if (rank(G, H.Source) == 4)
    return dim(G, H.Source, 1);
  if (rank(G, Operand) == 4)
    return dim(G, Operand, 1);
  return 0;
}

/// Follows the attention output down to the output projection.
void useOutputPath(const Graph &G, const Linears &Ls, AttentionInfo &A,
                   ValueId V) {
  for (unsigned Depth = 0; V != NoId && Depth < 8; ++Depth) {
    const Value &Val = G.Values[V];
    const Linear *Out = nullptr;
    for (NodeId U : Val.Users) {
      auto It = Ls.ByProduct.find(U);
      if (It != Ls.ByProduct.end() && Ls.All[It->second].In == V)
        Out = &Ls.All[It->second];
    }
    if (Out) {
      A.Out = Out->Product;
      A.OutWeight = Out->Weight;
      A.OutBias = Out->Bias;
      A.Nodes.insert(A.Nodes.end(), Out->Nodes.begin(), Out->Nodes.end());
      llvm::SmallVector<NodeId, 4> Tail;
      A.Output = layoutTail(G, Out->Out, &Tail);
      A.Nodes.insert(A.Nodes.end(), Tail.begin(), Tail.end());
      return;
    }
    NodeId UId = soleDataUser(G, V);
    if (UId == NoId)
      break;
    const Node &U = G.Nodes[UId];
    if (!isLayoutOp(U.Kind) || U.input(0) != V || U.Outputs.empty())
      break;
    A.Nodes.push_back(UId);
    V = U.Outputs[0];
  }
  A.Output = V;
}

std::optional<AttentionInfo> unfusedAt(const Graph &G, const Linears &Ls,
                                       NodeId SoftmaxId) {
  const Node &S = G.Nodes[SoftmaxId];
  if (S.Outputs.empty() || S.Outputs[0] == NoId || S.input(0) == NoId)
    return std::nullopt;
  int64_t Axis = S.getInt("axis", S.Opset >= 13 ? -1 : 1);
  if (!isLastAxis(G, S.input(0), Axis))
    return std::nullopt;
  LogitPath Logits;
  if (!walkLogits(G, S.input(0), Logits, 1, 0))
    return std::nullopt;
  // Softmax ─▶ … ─▶ P·V
  NodeId Context = NoId;
  std::vector<NodeId> ProbNodes;
  ValueId P = S.Outputs[0];
  for (unsigned Depth = 0; Depth < 6 && Context == NoId; ++Depth) {
    ValueId Next = NoId;
    for (NodeId U : G.Values[P].Users) {
      const Node &N = G.Nodes[U];
      if (N.Kind == OpKind::MatMul && N.input(0) == P &&
          !isConstant(G, N.input(1))) {
        Context = U;
        break;
      }
      const PathStep *St = lookupStep(ProbSteps, N.Kind);
      bool Data = N.Kind == OpKind::Where ? (N.input(1) == P || N.input(2) == P)
                                          : N.input(0) == P;
      if (St && Data && !N.Outputs.empty() && Next == NoId) {
        Next = N.Outputs[0];
        ProbNodes.push_back(U);
      }
    }
    if (Context != NoId || Next == NoId)
      break;
    P = Next;
  }
  if (Context == NoId)
    return std::nullopt;

  AttentionInfo A;
  A.Softmax = SoftmaxId;
  A.Scores = Logits.Scores;
  A.Context = Context;
  const Node &Sc = G.Nodes[A.Scores];
  HeadPath Q = walkHead(G, Ls, Sc.input(0));
  HeadPath K = walkHead(G, Ls, Sc.input(1));
  HeadPath V = walkHead(G, Ls, G.Nodes[Context].input(1));
  A.Scale = Logits.Scale * Q.Scale * K.Scale;
  A.ScaleKnown = Logits.Known && Q.Known && K.Known;
  A.Softcap = Logits.Softcap;
  A.HeadDim = dim(G, Sc.input(0), -1);
  if (!A.HeadDim)
    A.HeadDim = dim(G, Sc.input(1), -2);
  A.Heads = headsOf(G, Q, Sc.input(0), A.HeadDim);
  A.KvHeads = headsOf(G, K, Sc.input(1), A.HeadDim);
  if (!A.KvHeads)
    A.KvHeads = A.Heads;
  for (const MaskUse &M : Logits.Masks)
    A.Mask = strongerMask(A.Mask, classifyMask(G, M.Mask, M.Boolean, M.HiddenWhen));
  A.MaskNodes = Logits.MaskNodes;
  A.Nodes = Logits.Nodes;
  A.Nodes.push_back(A.Scores);
  A.Nodes.push_back(SoftmaxId);
  A.Nodes.insert(A.Nodes.end(), ProbNodes.begin(), ProbNodes.end());
  A.Nodes.push_back(Context);
  useHeadPaths(G, A, Q, K, V);
  useOutputPath(G, Ls, A, G.Nodes[Context].Outputs[0]);
  return A;
}

/// Operand positions and attributes of a fused attention op.
struct FusedForm {
  OpKind Op;
  int Query, Key, Value; ///< -1: not an input (projection inside the op)
  int PackedWeights;     ///< com.microsoft Attention's [hidden, 3·hidden]
  int PackedBias;
  int Mask, Bias; ///< key padding / boolean-or-additive mask, additive bias
  bool MaskBoolean, MaskHiddenWhen;
  bool AlwaysCausal;
  const char *CausalAttr, *HeadsAttr, *KvHeadsAttr;
};

const FusedForm FusedForms[] = {
    // com.microsoft Attention(input, weights, bias, mask_index, past, attention_bias)
    {OpKind::MsAttention, 0, -1, -1, 1, 2, 3, 5, true, false, false,
     "unidirectional", "num_heads", nullptr},
    // com.microsoft MultiHeadAttention(query, key, value, bias,
    //   key_padding_mask, attention_bias, past_key, past_value)
    {OpKind::MultiHeadAttention, 0, 1, 2, -1, -1, 4, 5, true, false, false,
     "unidirectional", "num_heads", nullptr},
    // com.microsoft GroupQueryAttention(query, key, value, past_key,
    //   past_value, seqlens_k, total_sequence_length, cos_cache, sin_cache)
    {OpKind::GroupQueryAttention, 0, 1, 2, -1, -1, -1, -1, false, false, true,
     nullptr, "num_heads", "kv_num_heads"},
    // ONNX Attention-23(Q, K, V, attn_mask, past_key, past_value); a bool
    // mask is true where attention is allowed, a float one is added.
    {OpKind::Attention, 0, 1, 2, -1, -1, 3, -1, true, false, false,
     "is_causal", "q_num_heads", "kv_num_heads"},
};

std::optional<AttentionInfo> fusedAt(const Graph &G, const Linears &Ls,
                                     NodeId Id) {
  const Node &N = G.Nodes[Id];
  const FusedForm *F = nullptr;
  for (const FusedForm &Form : FusedForms)
    if (Form.Op == N.Kind)
      F = &Form;
  if (!F || N.Outputs.empty() || N.Outputs[0] == NoId)
    return std::nullopt;
  AttentionInfo A;
  A.Fused = Id;
  A.Nodes.push_back(Id);
  int64_t Heads = F->HeadsAttr ? N.getInt(F->HeadsAttr, 0) : 0;
  int64_t KvHeads = F->KvHeadsAttr ? N.getInt(F->KvHeadsAttr, 0) : 0;
  ValueId Query = N.input(F->Query);
  ValueId Key = F->Key >= 0 ? N.input(F->Key) : NoId;

  if (F->PackedWeights >= 0) {
    // The projection is inside the op.
    ValueId W = parameterOf(G, N.input(F->PackedWeights));
    A.Q = A.K = A.V = Id;
    A.QWeight = A.KWeight = A.VWeight = W;
    A.QBias = A.KBias = A.VBias = parameterOf(G, N.input(F->PackedBias));
    A.FusedQkv = true;
    A.Input = A.KvInput = layoutRoot(G, Query);
    llvm::ArrayRef<int64_t> Sizes = N.getInts("qkv_hidden_sizes");
    int64_t QWidth = Sizes.size() == 3 ? Sizes[0] : 0;
    const TensorData *WT = G.initializer(W);
    if (!QWidth && WT && WT->Shape.size() == 2 && WT->Shape[1] % 3 == 0)
      QWidth = WT->Shape[1] / 3;
    A.HeadDim = Heads > 0 ? QWidth / Heads : 0;
    KvHeads = Sizes.size() == 3 && A.HeadDim ? Sizes[1] / A.HeadDim : Heads;
  } else {
    HeadPath Q = walkHead(G, Ls, Query);
    HeadPath K = Key != NoId ? walkHead(G, Ls, Key) : Q;
    HeadPath V = F->Value >= 0 && N.input(F->Value) != NoId
                     ? walkHead(G, Ls, N.input(F->Value))
                     : Q;
    useHeadPaths(G, A, Q, K, V);
    int64_t QRank = rank(G, Query);
    if (QRank == 4) { // [B, H, T, d]
      Heads = dim(G, Query, 1);
      A.HeadDim = dim(G, Query, 3);
      KvHeads = Key != NoId && rank(G, Key) == 4 ? dim(G, Key, 1) : KvHeads;
    } else if (QRank == 5) { // packed [B, T, H, 3, d]
      Heads = Heads ? Heads : dim(G, Query, 2);
      A.HeadDim = dim(G, Query, 4);
    } else if (QRank == 3 && Heads > 0) {
      int64_t Width = dim(G, Query, 2);
      bool Packed = Key == NoId;
      int64_t Parts = Packed ? Heads + 2 * (KvHeads ? KvHeads : Heads) : Heads;
      A.HeadDim = Width % Parts == 0 ? Width / Parts : 0;
      if (!Packed && !KvHeads && A.HeadDim && rank(G, Key) == 3)
        KvHeads = dim(G, Key, 2) / A.HeadDim;
      if (!Packed && !KvHeads && rank(G, Key) == 4)
        KvHeads = dim(G, Key, 1);
    }
  }
  A.Heads = Heads;
  A.KvHeads = KvHeads ? KvHeads : Heads;
  float Scale = N.getFloat("scale", 0);
  A.Scale = Scale != 0 ? Scale
            : A.HeadDim > 0 ? 1 / std::sqrt(static_cast<double>(A.HeadDim))
                            : 1;
  A.ScaleKnown = Scale != 0 || A.HeadDim > 0;
  A.Softcap = N.getFloat("softcap", 0);
  if (F->AlwaysCausal || (F->CausalAttr && N.getInt(F->CausalAttr, 0)))
    A.Mask = MaskKind::Causal;
  if (F->Mask >= 0 && N.input(F->Mask) != NoId) {
    ValueId M = N.input(F->Mask);
    bool Boolean = F->MaskBoolean && (F->Op != OpKind::Attention ||
                                      G.Values[M].Type == DataType::Bool);
    A.Mask = strongerMask(A.Mask, classifyMask(G, M, Boolean, F->MaskHiddenWhen));
  }
  if (F->Bias >= 0 && N.input(F->Bias) != NoId)
    A.Mask = strongerMask(A.Mask, classifyMask(G, N.input(F->Bias), false, false));
  useOutputPath(G, Ls, A, N.Outputs[0]);
  return A;
}

} // namespace

std::vector<AttentionInfo> structure::findAttention(const Graph &G,
                                                    const Linears &Ls) {
  std::vector<AttentionInfo> Out;
  for (NodeId Id : G.Order) {
    OpKind K = G.Nodes[Id].Kind;
    std::optional<AttentionInfo> A;
    if (K == OpKind::Softmax)
      A = unfusedAt(G, Ls, Id);
    else if (familyOf(K) == OpFamily::Attention)
      A = fusedAt(G, Ls, Id);
    if (!A)
      continue;
    llvm::sort(A->Nodes);
    A->Nodes.erase(std::unique(A->Nodes.begin(), A->Nodes.end()), A->Nodes.end());
    Out.push_back(std::move(*A));
  }
  return Out;
}
