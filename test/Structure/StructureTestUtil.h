//===- StructureTestUtil.h - load a model and recover its structure -*- C++ -*-===//
#ifndef GRADLINT_TEST_STRUCTURE_STRUCTURETESTUTIL_H
#define GRADLINT_TEST_STRUCTURE_STRUCTURETESTUTIL_H

#include "OnnxBuilder.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include <memory>
#include <string>

namespace gradlint::test {

constexpr int32_t F32 = 1, I64 = 7, I32 = 6, Bool = 9, F16 = 10;

struct Recovered {
  std::unique_ptr<Model> M;
  ModelStructure S;
  const Graph &g() const { return M->G; }
  /// The value or node id by name; fails the test when absent.
  ValueId value(const std::string &Name) const;
  NodeId node(const std::string &Name) const;
  std::string valueName(ValueId V) const {
    return V == NoId ? "<none>" : M->G.Values[V].Name;
  }
  std::string nodeName(NodeId N) const {
    return N == NoId ? "<none>" : M->G.Nodes[N].Name;
  }
};

/// Loads a model file, infers shapes and recovers the structure; fails the
/// test on a load or shape error.
Recovered recoverFile(const std::string &Path, const DimBindings &Dims = {});
/// The same for a model built in the test.
Recovered recoverBuilt(const OnnxBuilder &B, const DimBindings &Dims = {});

/// Appends Prefix-named nodes for y = x·W (+ b) with W [In, Out] filled
/// with a small deterministic pattern; returns the output name.
std::string addLinear(OnnxBuilder &B, const std::string &X, const std::string &Prefix,
                      int64_t In, int64_t Out, bool Bias = true);

} // namespace gradlint::test

#endif
