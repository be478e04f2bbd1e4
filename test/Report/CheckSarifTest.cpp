//===- CheckSarifTest.cpp - SARIF 2.1.0 for code scanning -----------------===//
//
// Structural checks of what the SARIF 2.1.0 spec requires and GitHub code
// scanning reads, and validation against the SARIF 2.1.0 JSON schema with
// Debian's python3-jsonschema when it and the schema file are present
// (skipped visibly otherwise).
//
//===----------------------------------------------------------------------===//
#include "CheckTestSupport.h"
#include "gradlint/Rules/Registry.h"
#include "llvm/Support/JSON.h"
#include <catch2/catch.hpp>
#include <set>

using namespace gradlint;
using namespace gradlint::test;

static const llvm::json::Object &obj(const llvm::json::Value *V) {
  REQUIRE(V);
  REQUIRE(V->getAsObject());
  return *V->getAsObject();
}

TEST_CASE("check sarif: the parts SARIF 2.1.0 and code scanning need",
          "[check][sarif]") {
  CheckDir D;
  Run R = D.check("saturated.onnx --format sarif");
  REQUIRE(R.Code == 0);
  auto J = llvm::json::parse(R.Out);
  REQUIRE(bool(J));
  const llvm::json::Object &Log = *J->getAsObject();
  CHECK(*Log.getString("version") == "2.1.0");
  CHECK(Log.getString("$schema"));
  const llvm::json::Array *Runs = Log.getArray("runs");
  REQUIRE(Runs);
  REQUIRE(Runs->size() == 1);
  const llvm::json::Object &Run0 = obj(&(*Runs)[0]);
  const llvm::json::Object &Driver = obj(obj(Run0.get("tool")).get("driver"));
  CHECK(*Driver.getString("name") == "gradlint");
  CHECK(Driver.getString("semanticVersion"));

  // Every rule that ran, with what code scanning shows.
  const llvm::json::Array *Rules = Driver.getArray("rules");
  REQUIRE(Rules);
  CHECK(Rules->size() == allRules().size());
  std::vector<std::string> Ids;
  for (const llvm::json::Value &V : *Rules) {
    const llvm::json::Object &Ru = obj(&V);
    std::string Id = Ru.getString("id")->str();
    INFO(Id);
    Ids.push_back(Id);
    const Rule *Known = findRule(Id);
    REQUIRE(Known);
    CHECK(*Ru.getString("name") == Known->Name);
    CHECK(!obj(Ru.get("shortDescription")).getString("text")->empty());
    CHECK(!obj(Ru.get("fullDescription")).getString("text")->empty());
    CHECK(*obj(Ru.get("help")).getString("text") == ruleDoc(*Known));
    CHECK(*obj(Ru.get("help")).getString("markdown") == ruleDoc(*Known));
    llvm::StringRef Level =
        *obj(Ru.get("defaultConfiguration")).getString("level");
    CHECK((Level == "error" || Level == "warning" || Level == "note"));
  }

  const llvm::json::Array *Results = Run0.getArray("results");
  REQUIRE(Results);
  REQUIRE(Results->size() == 2);
  std::set<std::string> Fingerprints;
  for (const llvm::json::Value &V : *Results) {
    const llvm::json::Object &Res = obj(&V);
    std::string RuleId = Res.getString("ruleId")->str();
    int64_t Index = *Res.getInteger("ruleIndex");
    REQUIRE(Index >= 0);
    REQUIRE(size_t(Index) < Ids.size());
    CHECK(Ids[Index] == RuleId);
    CHECK(*Res.getString("level") == "warning");
    CHECK(!obj(Res.get("message")).getString("text")->empty());
    const llvm::json::Array *Locs = Res.getArray("locations");
    REQUIRE(Locs);
    REQUIRE(Locs->size() == 1);
    const llvm::json::Object &Loc = obj(&(*Locs)[0]);
    const llvm::json::Object &Phys = obj(Loc.get("physicalLocation"));
    CHECK(*obj(Phys.get("artifactLocation")).getString("uri") ==
          "saturated.onnx");
    CHECK(*obj(Phys.get("region")).getInteger("startLine") == 1);
    const llvm::json::Array *Logical = Loc.getArray("logicalLocations");
    REQUIRE(Logical);
    if (RuleId == "GL109")
      CHECK(*obj(&(*Logical)[0]).getString("name") == "/act/Tanh");
    const llvm::json::Object &FP = obj(Res.get("partialFingerprints"));
    CHECK(FP.getString("gradlintFingerprint/v1")->size() == 16);
    CHECK(Fingerprints.insert(FP.getString("gradlintFingerprint/v1")->str())
              .second);
  }
}

TEST_CASE("check sarif: fingerprints stay while the numbers change",
          "[check][sarif]") {
  CheckDir D;
  Run A = D.check("saturated.onnx --format sarif --dim batch=1");
  Run B = D.check("saturated.onnx --format sarif --dim batch=8");
  auto FPs = [](const std::string &Text) {
    std::vector<std::string> Out;
    auto J = llvm::json::parse(Text);
    REQUIRE(bool(J));
    for (const llvm::json::Value &V :
         *(*J->getAsObject()->getArray("runs"))[0].getAsObject()->getArray(
             "results"))
      Out.push_back(V.getAsObject()
                        ->getObject("partialFingerprints")
                        ->getString("gradlintFingerprint/v1")
                        ->str());
    return Out;
  };
  CHECK(FPs(A.Out) == FPs(B.Out));
}

TEST_CASE("check sarif: valid against the SARIF 2.1.0 JSON schema",
          "[check][sarif]") {
  // The schema is not downloaded at run time: tools/bootstrap.sh installs
  // the npm package @microsoft/jest-sarif, which ships the SARIF 2.1.0 (rtm.5)
  // schema, into <build>/npm.
  std::string Schema;
  for (std::string P :
       {std::string(GRADLINT_ZOO_DIR) +
            "/../npm/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json",
        std::string(GRADLINT_SHARED_DIR) + "/sarif/sarif-schema-2.1.0.json"})
    if (pathExists(P))
      Schema = P;
  if (Schema.empty())
    GRADLINT_SKIP("no SARIF 2.1.0 schema: run tools/bootstrap.sh (it installs "
                  "@microsoft/jest-sarif into the build folder)");
  std::string Out, Err;
  if (runCommand("/usr/bin/python3 -c 'import jsonschema'", Out, Err) != 0)
    GRADLINT_SKIP("/usr/bin/python3 has no jsonschema module (Debian package "
                  "python3-jsonschema)");
  CheckDir D;
  for (const char *Model :
       {"saturated.onnx", GRADLINT_SOURCE_DIR "/examples/tiny-gpt.onnx"}) {
    INFO(Model);
    Run R = D.check(std::string(Model) + " --format sarif -o out.sarif");
    REQUIRE(R.Code == 0);
    int Code = runCommand("/usr/bin/python3 -c 'import json, sys, jsonschema; "
                          "jsonschema.validate(json.load(open(sys.argv[2])), "
                          "json.load(open(sys.argv[1])))' '" +
                              Schema + "' '" + D.Dir + "/out.sarif'",
                          Out, Err);
    INFO(Err);
    CHECK(Code == 0);
  }
}
