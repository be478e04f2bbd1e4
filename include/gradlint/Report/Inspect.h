//===- Inspect.h - `gradlint inspect` output --------------------*- C++ -*-===//
#ifndef GRADLINT_REPORT_INSPECT_H
#define GRADLINT_REPORT_INSPECT_H

#include "gradlint/IR/Graph.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace gradlint {

/// Facts about a model that inspect prints and other reports reuse.
struct ModelSummary {
  uint64_t Nodes = 0;
  std::map<std::string, unsigned> OpHistogram; ///< "domain:op" or "op"
  std::vector<std::string> UnknownOps;         ///< sorted, distinct
  uint64_t Parameters = 0;     ///< elements of float initializers
  uint64_t ParameterBytes = 0; ///< bytes of all initializers
  uint64_t ExternalBytes = 0;
  unsigned Initializers = 0;
};

ModelSummary summarize(const Model &M);

/// Schema "gradlint.inspect/1". With a recovered structure the object gains
/// "blocks" (DESIGN §6) and "structure" (embeddings, norms, head, unassigned).
llvm::json::Object inspectJson(const Model &M, const ShapeReport &Shapes,
                               const ModelStructure *Structure = nullptr);
void printInspectText(llvm::raw_ostream &OS, const Model &M,
                      const ShapeReport &Shapes,
                      const ModelStructure *Structure = nullptr);

/// The "blocks" array of DESIGN §6: index, kind, norm placement, attention
/// (heads, head_dim, scale, scaled, mask, ...), ffn (activation), residual,
/// and node and initializer names for each role.
llvm::json::Array blocksJson(const Model &M, const ModelStructure &S);
/// Embeddings, embedding and final norms, LM head and unassigned nodes.
llvm::json::Object structureJson(const Model &M, const ModelStructure &S);
/// The block table that inspect prints.
void printStructureText(llvm::raw_ostream &OS, const Model &M,
                        const ModelStructure &S);

/// JSON for a value's concrete shape, or null when unknown.
llvm::json::Value shapeJson(const Value &V);
/// The "model" object shared by inspect and check: path, opset, producer, ...
llvm::json::Object modelJson(const Model &M, const ShapeReport &Shapes);

} // namespace gradlint

#endif
