//===- SubParameters.h - column blocks of fused projections -----*- C++ -*-===//
//
// Where one MatMul's output is split (a fused QKV projection, gate/up of a
// gated FFN), each block of the weight gets its own prediction and its own
// measurement, named NAME[q], NAME[k], NAME[v] (NAME[0], NAME[1], ... where
// the role is unknown). DESIGN §3 "Sub-parameters".
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_STRUCTURE_SUBPARAMETERS_H
#define GRADLINT_STRUCTURE_SUBPARAMETERS_H

#include "gradlint/IR/Graph.h"

namespace gradlint {
struct ModelStructure;
}

namespace gradlint {

struct SubParameter {
  std::string Name;    ///< "W[q]"
  std::string Tag;     ///< "q", "k", "v", or "0", "1", ...
  ValueId Weight = NoId; ///< the initializer being split
  unsigned Axis = 1;   ///< axis of the initializer's tensor that is split
  int64_t Begin = 0, End = 0; ///< the block's range along Axis
  NodeId Product = NoId; ///< the MatMul/Gemm whose output is split
  ValueId Part = NoId;   ///< the Split or Slice output holding this block
};

/// Finds every split projection. Needs inferred shapes and folded constants.
/// Sorted by weight then Begin, so the output is deterministic. Blocks are
/// tagged q/k/v only where the recovered structure shows a fused attention
/// projection; other splits (gate/up included) are numbered.
std::vector<SubParameter> findSubParameters(const Model &M);
/// The same, with the structure already recovered.
std::vector<SubParameter> findSubParameters(const Model &M,
                                            const ModelStructure &S);

} // namespace gradlint

#endif
