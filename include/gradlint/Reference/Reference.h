//===- Reference.h - the reference loss and inputs (DESIGN §3) --*- C++ -*-===//
//
// Every gradient gradlint predicts or measures is dL/d(.) for one documented
// loss on one documented input distribution. The analysis and the probe both
// take them from here, so they cannot drift apart.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_REFERENCE_REFERENCE_H
#define GRADLINT_REFERENCE_REFERENCE_H

#include "gradlint/IR/Graph.h"
#include "gradlint/Support/Random.h"

namespace gradlint {

enum class LossKind { CrossEntropy, Projection };

llvm::StringRef lossName(LossKind K); ///< "ce" or "projection"
/// Parses "ce" / "projection"; an error names the accepted values.
llvm::Expected<LossKind> parseLossName(llvm::StringRef S);

/// How one graph input is drawn.
struct InputSpec {
  ValueId Value = NoId;
  /// Integer ids uniform over [0, Range) where Range is the number of rows of
  /// the table the consuming Gather indexes (through Cast/Reshape/Unsqueeze).
  bool TokenIds = false;
  int64_t Range = 0;
  /// Other integer inputs (masks, positions) are filled with 0s unless given.
  bool ZeroFill = false;
  /// Otherwise: float standard normal.
};

/// The reference for one model at its inferred shapes.
struct ReferenceSetup {
  LossKind Loss = LossKind::Projection;
  ValueId Output = NoId; ///< the first graph output, which the loss reads
  int64_t Rows = 0;      ///< N: elements of Output over its last dimension
  int64_t Vocab = 0;     ///< V: Output's last dimension (cross-entropy)
  std::vector<InputSpec> Inputs; ///< one per graph input, in graph order
};

/// Chooses the loss as DESIGN §3 says: cross-entropy when the model takes
/// integer token ids and its first output's last dimension is the vocabulary
/// (the size of the table those ids index, or larger); projection otherwise.
/// Forced picks the loss instead. Needs inferred shapes.
llvm::Expected<ReferenceSetup> referenceSetup(const Model &M,
                                              const LossKind *Forced = nullptr);

/// Seeds derived from the user's seed, one stream per purpose, so adding a
/// draw in one place never shifts the numbers drawn in another.
enum class Stream : uint64_t { Inputs = 1, Targets = 2, Projection = 3, Analysis = 4 };
Rng streamRng(uint64_t Seed, Stream S, uint64_t Index = 0);

} // namespace gradlint

#endif
