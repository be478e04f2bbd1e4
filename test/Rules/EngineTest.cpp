//===- EngineTest.cpp - severities, suppressions, order, baselines --------===//
#include "OnnxBuilder.h"
#include "RuleFixture.h"
#include <fstream>

using namespace gradlint;
using namespace gradlint::test;

/// Two vanishing parameters (GL101) and a post-norm stack deep enough for
/// GL108.
static RuleFixture twoFindings() {
  RuleFixture F;
  for (int I = 0; I < 13; ++I)
    F.block(NormPlacement::Post);
  F.param("head", {8, 8}, 1.0);
  F.param("b.weight", {8, 8}, 1e-4, 4, "ffn.up");
  F.param("a.weight", {8, 8}, 1e-4, 2, "ffn.up");
  return F;
}

static std::vector<Finding> runAll(RuleFixture &F) {
  RuleRunOptions O;
  O.Enabled = {findRule("GL101"), findRule("GL108")};
  O.Config = &F.Config;
  return runRules(F.M, F.A, F.S, O).Findings;
}

TEST_CASE("engine: findings are sorted by block, rule and parameter",
          "[rules][engine]") {
  RuleFixture F = twoFindings();
  auto Out = runAll(F);
  REQUIRE(Out.size() == 3);
  CHECK(Out[0].Code == "GL108");
  CHECK(Out[0].Block == 0);
  CHECK(Out[1].Parameter == "a.weight");
  CHECK(Out[2].Parameter == "b.weight");
  CHECK(Out[1].Name == "vanishing-gradient");
}

TEST_CASE("engine: config severities, off switches and suppressions",
          "[rules][engine]") {
  RuleFixture F = twoFindings();
  F.Config.Rules[findRule("GL101")].Level = Severity::Error;
  auto Out = runAll(F);
  CHECK(Out[1].Level == Severity::Error);
  F.Config.Rules[findRule("GL108")].Off = true;
  CHECK(runAll(F).size() == 2);
  Suppression S;
  S.Parameters = {"a.*"};
  F.Config.Suppressions.push_back(S);
  RuleRunOptions O;
  O.Enabled = {findRule("GL101")};
  O.Config = &F.Config;
  RuleResults R = runRules(F.M, F.A, F.S, O);
  CHECK(R.Findings.size() == 1);
  CHECK(R.Suppressed == 1);
}

TEST_CASE("engine: fingerprints ignore the numbers and tell findings apart",
          "[rules][engine]") {
  RuleFixture F = twoFindings();
  auto Before = runAll(F);
  F.A.Parameters[1].GradNorm.Est = 3e-4; // the numbers move
  auto After = runAll(F);
  for (size_t I = 0; I < Before.size(); ++I) {
    CHECK(Before[I].fingerprint() == After[I].fingerprint());
    CHECK(Before[I].fingerprint().size() == 16);
  }
  CHECK(Before[1].fingerprint() != Before[2].fingerprint());
}

TEST_CASE("engine: a baseline hides what it records and nothing else",
          "[rules][engine]") {
  std::string Dir = makeTempDir("baseline");
  std::string Path = Dir + "/baseline.json";
  RuleFixture F = twoFindings();
  auto Old = runAll(F);
  Old.pop_back(); // b.weight was not there when the baseline was written
  REQUIRE(!writeBaseline(Path, "m.onnx", Old));
  auto B = readBaseline(Path);
  REQUIRE(bool(B));
  auto Now = runAll(F);
  CHECK(applyBaseline(*B, Now) == 2);
  REQUIRE(Now.size() == 1);
  CHECK(Now[0].Parameter == "b.weight");
  std::ifstream In(Path);
  std::string Text((std::istreambuf_iterator<char>(In)),
                   std::istreambuf_iterator<char>());
  CHECK(Text.find("\"schema\": \"gradlint.baseline/1\"") != std::string::npos);

  writeFile(Path, "{\"schema\": \"other\"}");
  auto Bad = readBaseline(Path);
  REQUIRE(!Bad);
  CHECK(llvm::toString(Bad.takeError()) ==
        Path + ": not a gradlint baseline (schema gradlint.baseline/1)");
  CHECK(!readBaseline(Dir + "/missing.json"));
  std::system(("rm -rf '" + Dir + "'").c_str());
}
