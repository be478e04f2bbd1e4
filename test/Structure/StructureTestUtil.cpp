//===- StructureTestUtil.cpp ----------------------------------------------===//
#include "StructureTestUtil.h"
#include "gradlint/Loader/Loader.h"
#include <catch2/catch.hpp>
#include <cstdlib>

using namespace gradlint;
using namespace gradlint::test;

ValueId Recovered::value(const std::string &Name) const {
  ValueId V = M->G.findValue(Name);
  if (V == NoId)
    FAIL("no value named " << Name);
  return V;
}

NodeId Recovered::node(const std::string &Name) const {
  for (NodeId I = 0; I < M->G.Nodes.size(); ++I)
    if (M->G.Nodes[I].Name == Name)
      return I;
  FAIL("no node named " << Name);
  return NoId;
}

Recovered gradlint::test::recoverFile(const std::string &Path,
                                      const DimBindings &Dims) {
  auto M = loadModel(Path);
  if (!M)
    FAIL("cannot load " << Path << ": " << llvm::toString(M.takeError()));
  auto R = inferShapes(**M, Dims);
  if (!R)
    FAIL("no shapes for " << Path << ": " << llvm::toString(R.takeError()));
  Recovered Out;
  Out.M = std::move(*M);
  Out.S = recoverStructure(*Out.M);
  return Out;
}

Recovered gradlint::test::recoverBuilt(const OnnxBuilder &B,
                                       const DimBindings &Dims) {
  std::string Dir = makeTempDir("structure");
  Recovered R = recoverFile(B.writeTo(Dir + "/m.onnx"), Dims);
  std::system(("rm -rf '" + Dir + "'").c_str());
  return R;
}

std::string gradlint::test::addLinear(OnnxBuilder &B, const std::string &X,
                                      const std::string &Prefix, int64_t In,
                                      int64_t Out, bool Bias) {
  std::vector<float> W(In * Out);
  for (size_t I = 0; I < W.size(); ++I)
    W[I] = 0.01f * static_cast<float>((I * 7919) % 13) - 0.06f;
  B.floatInit(Prefix + ".weight", {In, Out}, W);
  std::string Y = Prefix + ".mm";
  B.node("MatMul", {X, Prefix + ".weight"}, {Y}, {}, "", Prefix + "/MatMul");
  if (!Bias)
    return Y;
  B.floatInit(Prefix + ".bias", {Out}, std::vector<float>(Out, 0.01f));
  B.node("Add", {Y, Prefix + ".bias"}, {Prefix + ".out"}, {}, "", Prefix + "/Add");
  return Prefix + ".out";
}
