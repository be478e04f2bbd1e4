//===- Structure.h - transformer structure recovered from a graph -*- C++ -*-===//
//
// gradlint names what it finds (DESIGN §4): transformer blocks with their
// attention, normalization, residual adds and feed-forward layers, the
// embeddings and the LM head, so that findings speak in the user's terms
// ("block 7 attention query projection"). Recovery is analysis, not fusion:
// the graph is never rewritten. docs/structure.md lists the patterns.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_STRUCTURE_STRUCTURE_H
#define GRADLINT_STRUCTURE_STRUCTURE_H

#include "gradlint/IR/Graph.h"
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gradlint {

enum class NormKind { LayerNorm, RMSNorm };
enum class NormPlacement { Pre, Post, None };
enum class MaskKind { None, Causal, Padding, Other };

llvm::StringRef normKindName(NormKind K);           ///< "layernorm", "rmsnorm"
llvm::StringRef normPlacementName(NormPlacement P); ///< "pre", "post", "none"
llvm::StringRef maskKindName(MaskKind K); ///< "none", "causal", "padding", "other"

struct NormInfo {
  NormKind Kind = NormKind::LayerNorm;
  std::vector<NodeId> Nodes; ///< the fused op, or every node of the pattern
  ValueId Input = NoId, Output = NoId;
  ValueId Gamma = NoId, Beta = NoId; ///< initializers (through Identity/Cast)
  double Epsilon = 0;
  int64_t Axis = -1; ///< first normalized axis, negative when the rank is known
  bool Decomposed = false;
  /// Skip(Simplified)LayerNormalization: the skip input and the
  /// input+skip sum output (NoId when the graph does not use it).
  ValueId Skip = NoId, Sum = NoId;
  /// Where the norm sits relative to the sublayer it serves.
  NormPlacement Placement = NormPlacement::None;
  /// "attention", "cross_attention", "ffn", "embedding", "final" or ""
  std::string Sublayer;
  /// The op of a fused norm ("LayerNormalization", ...) or the pattern name.
  std::string Form;
};

struct AttentionInfo {
  std::vector<NodeId> Nodes;
  /// Projection MatMul/Gemm (the same node when fused; the fused attention op
  /// for com.microsoft Attention, whose projection is inside the op).
  NodeId Q = NoId, K = NoId, V = NoId, Out = NoId;
  /// Initializers (the fused one for all three when fused).
  ValueId QWeight = NoId, KWeight = NoId, VWeight = NoId, OutWeight = NoId;
  ValueId QBias = NoId, KBias = NoId, VBias = NoId, OutBias = NoId;
  /// The projected q, k, v tensors before the head reshape (a Split or Slice
  /// output when fused); NoId when no projection was found.
  ValueId QValue = NoId, KValue = NoId, VValue = NoId;
  NodeId Scores = NoId /*QKᵀ MatMul*/, Softmax = NoId,
         Context = NoId /*P·V MatMul*/;
  NodeId Fused = NoId; ///< contrib or opset-23 attention op
  int64_t Heads = 0, KvHeads = 0, HeadDim = 0; ///< 0 when unknown
  /// Effective multiplier on QKᵀ: logit Mul/Div, √scale Muls on Q and Kᵀ, or
  /// the fused op's scale (default 1/√head_dim).
  double Scale = 1;
  bool ScaleKnown = true; ///< false when a factor did not fold to a number
  double Softcap = 0;     ///< c of c·tanh(s/c) on the logits, 0 when none
  MaskKind Mask = MaskKind::None;
  std::vector<NodeId> MaskNodes; ///< the Add/Where that apply masks
  bool FusedQkv = false;         ///< q, k, v come from one projection
  bool Rotary = false;           ///< a rotate-half rotary embedding on q/k
  ValueId Input = NoId, Output = NoId;
  /// What the key/value projections read: Input for self-attention, the
  /// encoder's output for cross-attention.
  ValueId KvInput = NoId;
  bool isCross() const { return KvInput != NoId && Input != NoId && KvInput != Input; }
};

struct FfnInfo {
  std::vector<NodeId> Nodes;
  NodeId Up = NoId, Gate = NoId, Down = NoId; ///< Gate == Up when fused
  ValueId UpWeight = NoId, GateWeight = NoId, DownWeight = NoId;
  ValueId UpBias = NoId, GateBias = NoId, DownBias = NoId;
  /// "relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "swiglu",
  /// "geglu", or another single-op activation ("leaky_relu", "quick_gelu", ...)
  std::string Activation;
  NodeId ActivationNode = NoId;
  /// Gated FFNs: the gate and up tensors (Split/Slice outputs when fused).
  ValueId GateValue = NoId, UpValue = NoId;
  bool Gated = false;
  ValueId Input = NoId, Output = NoId;
};

struct ResidualInfo {
  NodeId Add = NoId; ///< an Add, or a Skip(Simplified)LayerNormalization
  ValueId Skip = NoId, Branch = NoId;
  ValueId Output = NoId; ///< the sum (NoId for a SkipLN whose sum is unused)
};

struct BlockInfo {
  unsigned Index = 0;
  NormPlacement Norm = NormPlacement::None;
  std::optional<AttentionInfo> Attention;
  /// An encoder-decoder block's cross-attention (between self-attention and
  /// the feed-forward layer).
  std::optional<AttentionInfo> CrossAttention;
  std::optional<FfnInfo> Ffn;
  std::vector<NormInfo> Norms;
  std::vector<ResidualInfo> Residuals;
  std::vector<NodeId> Nodes; ///< every node of the block, topological order
  /// "transformer" (attention and feed-forward) or "attention".
  llvm::StringRef kind() const { return Ffn ? "transformer" : "attention"; }
};

struct EmbeddingInfo {
  NodeId Gather = NoId; ///< NoId for a positional table added directly
  ValueId Table = NoId;
  bool Positional = false;
  NodeId Add = NoId; ///< the Add that combines it with the token embedding
};

struct ModelStructure {
  std::vector<BlockInfo> Blocks;
  std::vector<EmbeddingInfo> Embeddings;
  std::vector<NormInfo> EmbeddingNorms; ///< norms between embeddings and block 0
  std::vector<NormInfo> FinalNorms;
  NodeId Head = NoId;
  ValueId HeadWeight = NoId, HeadBias = NoId;
  /// Nodes before the first block (embeddings and their index arithmetic)
  /// and after the last (final norm, head).
  std::vector<NodeId> Prologue, Epilogue;
  /// Nodes in no block, prologue or epilogue, topological order.
  std::vector<NodeId> Unassigned;

  int blockOf(NodeId N) const; ///< -1 when in no block

  /// Where a parameter (initializer, an Identity alias of one, or a
  /// sub-parameter name like "W[q]") sits: block (-1 if none) and a role
  /// string like "attention.q", "attention.k", "attention.v",
  /// "attention.qkv", "attention.out", "ffn.up", "ffn.gate", "ffn.down",
  /// "norm.gamma", "norm.beta", "embedding.token", "embedding.position",
  /// "head" (biases append ".bias"), or "" when unknown; plus a human phrase
  /// ("block 7 attention query projection").
  struct Role {
    int Block = -1;
    std::string Kind;
    std::string Phrase;
  };
  Role roleOf(const Model &M, llvm::StringRef ParameterName) const;

  /// Block of each node (-1 when none), indexed by NodeId.
  std::vector<int> NodeBlock;
  /// Roles by parameter name, filled by recoverStructure.
  std::map<std::string, Role> Roles;
};

/// Recovers the structure of a model; call after inferShapes (patterns read
/// shapes and folded constants). Deterministic; never fails: what is not
/// recognized is listed in Unassigned.
ModelStructure recoverStructure(const Model &M);

} // namespace gradlint

#endif
