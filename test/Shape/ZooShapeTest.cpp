//===- ZooShapeTest.cpp - shapes of real torch exports --------------------===//
//
// Every zoo model loads, every value gets a concrete shape at the export's
// dims, and the first output has the shape PyTorch produced (meta.json).
//
//===----------------------------------------------------------------------===//
#include "Zoo.h"
#include "gradlint/Loader/Loader.h"
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("zoo: every torch export gets concrete shapes matching PyTorch",
          "[zoo][shape]") {
  std::vector<ZooModel> Zoo = zooModels();
  REQUIRE(Zoo.size() >= 30);
  for (const ZooModel &Z : Zoo) {
    INFO("model " << Z.Name);
    auto M = loadModel(Z.modelPath());
    REQUIRE(bool(M));
    auto R = inferShapes(**M, Z.dims());
    if (!R)
      FAIL(llvm::toString(R.takeError()));
    std::vector<std::string> Unknown;
    for (ValueId V : R->Unknown)
      if (!(*M)->G.Values[V].Name.empty())
        Unknown.push_back((*M)->G.Values[V].Name);
    CHECK(Unknown.empty());
    const llvm::json::Array *Want = Z.Meta.getObject("output")->getArray("shape");
    Dims Expected;
    for (const llvm::json::Value &D : *Want)
      Expected.push_back(*D.getAsInteger());
    const Value &Out = (*M)->G.Values[(*M)->G.Outputs[0]];
    CHECK(Out.Shape == Expected);
    // Defaults never hide a dim the export bound explicitly.
    for (const auto &[Name, V] : Z.dims())
      CHECK(R->Dims.at(Name) == V);
  }
}
