//===- Zoo.cpp ------------------------------------------------------------===//
#include "Zoo.h"
#include "TestPaths.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <algorithm>
#include <catch2/catch.hpp>

using namespace gradlint;
using namespace gradlint::test;

llvm::json::Value gradlint::test::readJson(const std::string &Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path);
  if (!Buf)
    FAIL("cannot read " << Path);
  auto J = llvm::json::parse((*Buf)->getBuffer());
  if (!J)
    FAIL("bad JSON in " << Path << ": " << llvm::toString(J.takeError()));
  return std::move(*J);
}

DimBindings ZooModel::dims() const {
  DimBindings D;
  if (const llvm::json::Object *Dims = Meta.getObject("dims"))
    for (const auto &KV : *Dims)
      if (auto V = KV.second.getAsInteger())
        D[KV.first.str()] = *V;
  return D;
}

std::vector<ZooModel> gradlint::test::zooModels() {
  std::string Root = GRADLINT_ZOO_DIR;
  if (!pathExists(Root + "/tiny_gpt/model.onnx"))
    GRADLINT_SKIP("zoo not generated at " << Root
                                          << " (run the zoo.generate CTest fixture)");
  std::vector<ZooModel> Out;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(Root, EC), End; It != End && !EC;
       It.increment(EC)) {
    std::string Meta = It->path() + "/meta.json";
    if (!pathExists(Meta))
      continue;
    ZooModel Z;
    Z.Dir = It->path();
    Z.Name = llvm::sys::path::filename(Z.Dir).str();
    Z.Meta = std::move(*readJson(Meta).getAsObject());
    Out.push_back(std::move(Z));
  }
  std::sort(Out.begin(), Out.end(),
            [](const ZooModel &A, const ZooModel &B) { return A.Name < B.Name; });
  return Out;
}

gradlint::test::ZooModel gradlint::test::zooModel(const std::string &Name) {
  std::vector<ZooModel> Zoo = zooModels();
  auto It = std::find_if(Zoo.begin(), Zoo.end(),
                         [&](const ZooModel &Z) { return Z.Name == Name; });
  if (It == Zoo.end())
    FAIL("zoo model " << Name << " not found in " << GRADLINT_ZOO_DIR);
  return std::move(*It);
}
