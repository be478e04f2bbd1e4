//===- Inspect.h - `gradlint inspect` output --------------------*- C++ -*-===//
#ifndef GRADLINT_REPORT_INSPECT_H
#define GRADLINT_REPORT_INSPECT_H

#include "gradlint/IR/Graph.h"
#include "gradlint/Shape/ShapeInference.h"
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

/// Schema "gradlint.inspect/1".
llvm::json::Object inspectJson(const Model &M, const ShapeReport &Shapes);
void printInspectText(llvm::raw_ostream &OS, const Model &M,
                      const ShapeReport &Shapes);

/// JSON for a value's concrete shape, or null when unknown.
llvm::json::Value shapeJson(const Value &V);
/// The "model" object shared by inspect and check: path, opset, producer, ...
llvm::json::Object modelJson(const Model &M, const ShapeReport &Shapes);

} // namespace gradlint

#endif
