//===- Match.h - graph patterns as data, and the helpers they share -------===//
//
// Internal to lib/Structure. A pattern is a table of rows "Out = Op(Ins...)";
// rows with the same Out are alternatives; the matcher unifies a table with
// the subgraph above a root value, trying commutative operand orders, and
// looks through Casts (mixed-precision exports put them anywhere).
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_STRUCTURE_MATCH_H
#define GRADLINT_LIB_STRUCTURE_MATCH_H

#include "gradlint/Structure/Structure.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>

namespace gradlint::structure {

/// One row of a pattern: the value named Out is Op(Ins...). An input is
///   "name"  a value: produced by the rows named so when there are any,
///           otherwise a free variable (bound on first sight, equal after)
///   "=2"    a constant whose elements all equal 2 (relative 1e-4)
///   "#eps"  captures a constant scalar under that name
///   "$g"    captures a parameter (an initializer, through Identity/Cast)
///   "*"     anything
/// Inputs past the listed ones (ReduceMean's axes, ...) are not looked at.
struct PatternRow {
  const char *Out;
  OpKind Op;
  const char *Ins[3];
};

struct Match {
  llvm::SmallVector<std::pair<llvm::StringRef, ValueId>, 16> Values;
  llvm::SmallVector<std::pair<llvm::StringRef, NodeId>, 16> NodesByName;
  llvm::SmallVector<std::pair<llvm::StringRef, double>, 4> Scalars;
  /// Every node the match covers (pattern nodes and the Casts looked
  /// through), sorted and distinct.
  llvm::SmallVector<NodeId, 16> Nodes;

  ValueId value(llvm::StringRef Name) const;
  NodeId node(llvm::StringRef Name) const;
  std::optional<double> scalar(llvm::StringRef Name) const;
};

/// Matches Pattern (root: Pattern[0].Out) against the subgraph producing Root.
std::optional<Match> matchPattern(const Graph &G, llvm::ArrayRef<PatternRow> Pattern,
                                  ValueId Root);

//===-- value helpers -----------------------------------------------------===//

/// The producer of V, or nullptr.
const Node *producer(const Graph &G, ValueId V);
/// V with Cast/CastLike producers looked through; Casts collects them.
ValueId stripCasts(const Graph &G, ValueId V,
                   llvm::SmallVectorImpl<NodeId> *Casts = nullptr);
/// The value of a constant whose elements are all equal (within 1e-6
/// relative), from Value::Const or a small initializer; looks through
/// Identity and Cast.
std::optional<double> uniformConstant(const Graph &G, ValueId V);
/// Whether V is known before the model runs (an initializer or folded).
bool isConstant(const Graph &G, ValueId V);
/// The floating-point initializer behind V (through Identity and Cast), or
/// NoId. Nodes collects the looked-through nodes.
ValueId parameterOf(const Graph &G, ValueId V,
                    llvm::SmallVectorImpl<NodeId> *Nodes = nullptr);
/// The single user of V that reads its data (Shape and Size only read the
/// shape), or NoId when there is none or more than one, or V is an output.
NodeId soleDataUser(const Graph &G, ValueId V);
/// Follows producers while they are layout-only ops (Reshape, Transpose,
/// Squeeze, Unsqueeze, Flatten, Cast, Identity, Dropout).
ValueId layoutRoot(const Graph &G, ValueId V,
                   llvm::SmallVectorImpl<NodeId> *Nodes = nullptr);
/// Follows the single user while it is a layout-only op taking V as data.
ValueId layoutTail(const Graph &G, ValueId V,
                   llvm::SmallVectorImpl<NodeId> *Nodes = nullptr);
bool isLayoutOp(OpKind K);
/// Last-axis test for an axis attribute against a value's rank (when known).
bool isLastAxis(const Graph &G, ValueId V, int64_t Axis);
/// Whether A is V or is computed before V on a path into V (node-level:
/// outputs of one node count as ancestors of each other).
bool isAncestorOrSelf(const Graph &G, ValueId A, ValueId V);
/// Appends Id to Out if it is a real node.
void addNode(std::vector<NodeId> &Out, NodeId Id);

//===-- linear layers -----------------------------------------------------===//

/// A MatMul/Gemm with an initializer weight, and its bias Add when present.
struct Linear {
  NodeId Product = NoId, BiasAdd = NoId;
  ValueId In = NoId, Out = NoId; ///< Out is after the bias
  ValueId Weight = NoId, Bias = NoId;
  std::vector<NodeId> Nodes; ///< product, bias Add, weight Transpose/Identity
  int64_t OutFeatures = 0;
};

/// Every linear layer of the graph plus lookups; built once per recovery.
struct Linears {
  std::vector<Linear> All;
  llvm::DenseMap<ValueId, unsigned> ByOut;
  llvm::DenseMap<NodeId, unsigned> ByProduct;
  explicit Linears(const Graph &G);
  const Linear *byOut(ValueId V) const;
};

/// A value cut from a linear layer's output by Split or Slice on the last
/// axis: the layer, the cutting node, and the part's rank among the parts.
struct LinearPart {
  const Linear *L = nullptr;
  NodeId Cut = NoId;
  unsigned Part = 0;
  int64_t Width = 0;
};
std::optional<LinearPart> linearPartOf(const Graph &G, const Linears &Ls,
                                       ValueId V);

//===-- recognizers (one file each) ----------------------------------------===//

std::vector<NormInfo> findNorms(const Graph &G);
std::vector<AttentionInfo> findAttention(const Graph &G, const Linears &Ls);
std::vector<FfnInfo> findFeedForward(const Graph &G, const Linears &Ls);
/// Mask kind of a mask tensor. Additive masks hide entries <= -1e4; boolean
/// masks hide entries equal to HiddenWhen.
MaskKind classifyMask(const Graph &G, ValueId Mask, bool Boolean,
                      bool HiddenWhen);

} // namespace gradlint::structure

#endif
