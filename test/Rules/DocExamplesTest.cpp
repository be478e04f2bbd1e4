//===- DocExamplesTest.cpp - the rule pages show what check prints --------===//
//
// A rule page's bad example quotes `gradlint check` on a zoo model
// ("gpt_L6_noresidual.onnx: warning: … [GL106]"). Each such line must be
// what check prints for that model today, word for word and number for
// number, so that the pages cannot drift from the analysis.
//
//===----------------------------------------------------------------------===//
#include "TestPaths.h"
#include "Zoo.h"
#include "gradlint/Rules/Registry.h"
#include "llvm/ADT/StringRef.h"
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("rules: each page's zoo examples are check's output", "[rules][zoo]") {
  std::map<std::string, ZooModel> Zoo;
  for (ZooModel &Z : zooModels())
    Zoo.emplace(Z.Name, std::move(Z));
  // Quoted lines by zoo model, with the page they come from.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> Quoted;
  for (const Rule *R : allRules()) {
    std::istringstream Page(ruleDoc(*R).str());
    for (std::string Line; std::getline(Page, Line);) {
      llvm::StringRef L(Line);
      size_t Colon = L.find(".onnx: ");
      if (Colon == llvm::StringRef::npos)
        continue;
      std::string Model = L.take_front(Colon).str();
      if (Zoo.count(Model))
        Quoted[Model].push_back({R->Code.str(), Line});
    }
  }
  REQUIRE(Quoted.size() >= 5);
  for (const auto &[Model, Lines] : Quoted) {
    const ZooModel &Z = Zoo.at(Model);
    std::string Dims;
    for (const auto &[Name, V] : Z.dims())
      Dims += " --dim " + Name + "=" + std::to_string(V);
    Run Check = runGradlint("check --fail-on never" + Dims + " " + Z.modelPath());
    REQUIRE(Check.Code == 0);
    // check names the file it read; the pages name the model.
    std::set<std::string> Printed;
    std::istringstream Out(Check.Out);
    for (std::string Line; std::getline(Out, Line);)
      if (llvm::StringRef(Line).consume_front(Z.modelPath() + ": "))
        Printed.insert(Model + ".onnx: " + Line.substr(Z.modelPath().size() + 2));
    for (const auto &[Code, Line] : Lines) {
      INFO(Code << " quotes: " << Line);
      CHECK(Printed.count(Line));
    }
  }
}
