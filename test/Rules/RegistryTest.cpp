//===- RegistryTest.cpp - every rule is complete --------------------------===//
//
// STYLE rule 5: a rule is one source file, one registration line, one doc
// page and one test file, all named <Code>-<name>; its doc page is embedded
// in the binary and printed by `gradlint explain`.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Rules/Registry.h"
#include "TestPaths.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <set>

using namespace gradlint;
using namespace gradlint::test;

static std::string readFile(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(In)),
                     std::istreambuf_iterator<char>());
}

TEST_CASE("rules: codes are unique, ordered and named in kebab case",
          "[rules]") {
  std::set<std::string> Codes, Names;
  llvm::StringRef Prev;
  for (const Rule *R : allRules()) {
    INFO(R->Code.str());
    CHECK(Codes.insert(R->Code.str()).second);
    CHECK(Names.insert(R->Name.str()).second);
    CHECK(R->Code.size() == 5);
    CHECK(R->Code.startswith("GL1"));
    CHECK(Prev < R->Code);
    Prev = R->Code;
    for (char C : R->Name)
      CHECK(((C >= 'a' && C <= 'z') || llvm::isDigit(C) || C == '-'));
    CHECK(!R->Summary.empty());
    CHECK(R->Check);
    CHECK(findRule(R->Code) == R);
    CHECK(findRule(R->Code.lower()) == R);
    CHECK(findRule(R->Name) == R);
  }
  CHECK(allRules().size() >= 13);
}

TEST_CASE("rules: each has its source, doc page and test under derived names",
          "[rules]") {
  std::string Root = GRADLINT_SOURCE_DIR;
  for (const Rule *R : allRules()) {
    std::string Stem = R->fileStem();
    INFO(Stem);
    CHECK(pathExists(Root + "/lib/Rules/" + Stem + ".cpp"));
    CHECK(pathExists(Root + "/test/Rules/" + Stem + ".cpp"));
    std::string Doc = readFile(Root + "/docs/rules/" + Stem + ".md");
    REQUIRE(!Doc.empty());
    // The embedded page is the file, byte for byte.
    CHECK(ruleDoc(*R) == Doc);
    CHECK(llvm::StringRef(Doc).startswith("# " + R->Code.str() + " " +
                                          R->Name.str() + "\n"));
    for (const char *Section :
         {"## What it finds", "## Why it matters", "## Bad example",
          "## How to fix", "## Options"})
      CHECK(Doc.find(Section) != std::string::npos);
    // Every option is documented on the page.
    for (const RuleOption &O : R->Options)
      CHECK(Doc.find("`" + O.Name.str() + "`") != std::string::npos);
    CHECK(!ruleDescription(*R).empty());
  }
}

TEST_CASE("rules: explain prints the page of every rule", "[rules][cli]") {
  for (const Rule *R : allRules()) {
    INFO(R->Code.str());
    std::string Out, Err;
    int Code = runCommand(
        std::string(GRADLINT_BINARY) + " explain " + R->Code.str(), Out, Err);
    CHECK(Code == 0);
    CHECK(Out == ruleDoc(*R).str());
    CHECK(Err.empty());
  }
  std::string Out, Err;
  CHECK(runCommand(std::string(GRADLINT_BINARY) + " explain softmax-saturation",
                   Out, Err) == 0);
  CHECK(Out.rfind("# GL103 softmax-saturation", 0) == 0);
}

TEST_CASE("rules: explain of an unknown rule is a usage error",
          "[rules][cli]") {
  for (const char *Args : {"explain GL999", "explain"}) {
    std::string Out, Err;
    CHECK(runCommand(std::string(GRADLINT_BINARY) + " " + Args, Out, Err) == 2);
    CHECK(Err.rfind("gradlint: error: ", 0) == 0);
    CHECK(Err.find('\n') == Err.size() - 1);
  }
}

TEST_CASE("rules: the list names every rule with its severity",
          "[rules][cli]") {
  std::string Out, Err;
  REQUIRE(runCommand(std::string(GRADLINT_BINARY) + " rules", Out, Err) == 0);
  for (const Rule *R : allRules()) {
    std::string Line = Out.substr(Out.find(R->Code.str()));
    Line = Line.substr(0, Line.find('\n'));
    CHECK(Line.find(R->Name.str()) != std::string::npos);
    CHECK(Line.find(severityName(R->DefaultSeverity).str()) !=
          std::string::npos);
    CHECK(Line.find(R->Summary.str()) != std::string::npos);
  }
  REQUIRE(runCommand(std::string(GRADLINT_BINARY) + " rules --format json", Out,
                     Err) == 0);
  auto J = llvm::json::parse(Out);
  REQUIRE(bool(J));
  CHECK(J->getAsObject()->getArray("rules")->size() == allRules().size());
}
