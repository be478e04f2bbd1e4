//===- RuleFixture.h - hand-filled inputs for rule tests --------*- C++ -*-===//
//
// A rule reads a Model, an AnalysisResult and a ModelStructure. Rule tests
// fill exactly the facts a rule reads, so each case states its numbers; the
// end-to-end cases on real graphs live in test/Report and the [zoo] tests.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_TEST_RULES_RULEFIXTURE_H
#define GRADLINT_TEST_RULES_RULEFIXTURE_H

#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Rules/Engine.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Structure/Structure.h"
#include <catch2/catch.hpp>
#include <cmath>

namespace gradlint::test {

struct RuleFixture {
  Model M;
  AnalysisResult A;
  ModelStructure S;
  CheckConfig Config;
  PrecisionKind Precision = PrecisionKind::FP32;

  NodeId addNode(const std::string &Name, OpKind Kind = OpKind::Unknown,
                 const std::string &OpType = "") {
    Node N;
    N.Name = Name;
    N.Kind = Kind;
    N.OpType = OpType.empty() ? opTypeName(Kind).str() : OpType;
    M.G.Nodes.push_back(N);
    NodeId Id = NodeId(M.G.Nodes.size() - 1);
    M.G.Order.push_back(Id);
    A.Facts.resize(M.G.Nodes.size());
    A.Facts[Id].Node = Id;
    S.NodeBlock.resize(M.G.Nodes.size(), -1);
    return Id;
  }

  ValueId addValue(const std::string &Name, DataType T = DataType::Float) {
    Value V;
    V.Name = Name;
    V.Type = T;
    M.G.Values.push_back(V);
    A.Forward.resize(M.G.Values.size());
    A.Backward.resize(M.G.Values.size());
    return ValueId(M.G.Values.size() - 1);
  }

  /// A value whose backward summary says ‖g‖ = Est.
  ValueId gradValue(const std::string &Name, double Est) {
    ValueId V = addValue(Name);
    A.Backward[V].Reached = true;
    A.Backward[V].Norm = {Est / 2, Est, Est * 2};
    return V;
  }

  /// A parameter prediction; Kind/Block/Phrase fill its structure role.
  ParameterPrediction &param(const std::string &Name, Dims Shape, double Est,
                             int Block = -1, const std::string &Kind = "",
                             const std::string &Parent = "") {
    ParameterPrediction P;
    P.Name = Name;
    P.Shape = Shape;
    P.Parent = Parent;
    P.GradNorm = {Est / 2, Est, Est * 2};
    uint64_t N = 1;
    numElements(Shape, N);
    P.WeightNorm = 0.05 * std::sqrt(double(N));
    A.Parameters.push_back(P);
    if (!Kind.empty() || Block >= 0) {
      ModelStructure::Role R;
      R.Block = Block;
      R.Kind = Kind;
      R.Phrase =
          (Block >= 0 ? "block " + std::to_string(Block) + " " : "") + Kind;
      S.Roles[Name] = R;
    }
    return A.Parameters.back();
  }

  BlockInfo &block(NormPlacement Norm = NormPlacement::Pre) {
    BlockInfo B;
    B.Index = unsigned(S.Blocks.size());
    B.Norm = Norm;
    S.Blocks.push_back(B);
    return S.Blocks.back();
  }

  /// Sets an option of the rule under test, as gradlint.toml would.
  void option(const std::string &Code, const std::string &Name, double V) {
    Config.Rules[findRule(Code)].Options[Name] = V;
  }

  std::vector<Finding> run(llvm::StringRef Code) {
    const Rule *R = findRule(Code);
    REQUIRE(R);
    RuleRunOptions O;
    O.Enabled = {R};
    O.Config = &Config;
    O.Precision = Precision;
    return runRules(M, A, S, O).Findings;
  }
};

/// A forward summary with the same mean and variance in every feature.
inline ValueSummary gaussian(double Mean, double Var, int64_t Features = 8,
                             int64_t Rows = 16) {
  ValueSummary S;
  S.Rows = Rows;
  S.Features = Features;
  S.Mean.assign(Features, Mean);
  S.Var.assign(Features, Var);
  return S;
}

} // namespace gradlint::test

#endif
