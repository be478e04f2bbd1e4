//===- CheckJsonTest.cpp - schema gradlint.check/1 ------------------------===//
#include "CheckTestSupport.h"
#include "llvm/Support/JSON.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

TEST_CASE("check json: gradlint.check/1 with findings, parameters and blocks",
          "[check][json]") {
  CheckDir D;
  Run R = D.check("saturated.onnx --format json --dim batch=4");
  REQUIRE(R.Code == 0);
  auto J = llvm::json::parse(R.Out);
  REQUIRE(bool(J));
  const llvm::json::Object &O = *J->getAsObject();
  CHECK(*O.getString("schema") == "gradlint.check/1");
  const llvm::json::Object *Model = O.getObject("model");
  REQUIRE(Model);
  CHECK(*Model->getString("path") == "saturated.onnx");
  CHECK(*Model->getString("producer") == "check-test");
  CHECK(*Model->getInteger("nodes") == 2);
  CHECK(*Model->getInteger("parameters") == 256);
  CHECK(*Model->getObject("dims")->getInteger("batch") == 4);
  CHECK(*Model->getInteger("opset") == 17);
  CHECK(*O.getObject("loss")->getString("kind") == "projection");
  CHECK(O.getArray("blocks")->empty());

  const llvm::json::Array *Params = O.getArray("parameters");
  REQUIRE(Params->size() == 1);
  const llvm::json::Object &W = *(*Params)[0].getAsObject();
  CHECK(*W.getString("name") == "W");
  CHECK(W.getArray("shape")->size() == 2);
  const llvm::json::Object *G = W.getObject("grad_norm");
  REQUIRE(G);
  double Lo = *G->getNumber("lo"), Est = *G->getNumber("est");
  CHECK(Lo <= Est);
  CHECK(Est > 0);
  CHECK(W.get("block")->kind() == llvm::json::Value::Null);

  const llvm::json::Array *Findings = O.getArray("findings");
  REQUIRE(Findings->size() == 2);
  const llvm::json::Object &F = *(*Findings)[0].getAsObject();
  CHECK(*F.getString("rule") == "GL109");
  CHECK(*F.getString("name") == "saturating-activation");
  CHECK(*F.getString("severity") == "warning");
  CHECK(F.getString("message")->startswith("tanh saturates: 68%"));
  CHECK(*F.getString("node") == "/act/Tanh");
  CHECK(F.get("block")->kind() == llvm::json::Value::Null);
  CHECK(*F.getString("parameter") == "W");
  CHECK(*F.getObject("evidence")->getNumber("saturated_share") ==
        Approx(0.677).epsilon(0.01));
  CHECK(F.getArray("remediation")->size() >= 2);
  CHECK(F.getString("fingerprint")->size() == 16);
  CHECK(*(*Findings)[1].getAsObject()->getString("rule") == "GL111");
  CHECK(*O.getObject("summary")->getInteger("warnings") == 2);
}

TEST_CASE("check json: blocks and roles of a transformer", "[check][json]") {
  Run R = runTool("check --format json " GRADLINT_SOURCE_DIR
                  "/examples/tiny-gpt.onnx");
  REQUIRE(R.Code == 0);
  auto J = llvm::json::parse(R.Out);
  REQUIRE(bool(J));
  const llvm::json::Object &O = *J->getAsObject();
  CHECK(*O.getObject("loss")->getString("kind") == "ce");
  const llvm::json::Array *Blocks = O.getArray("blocks");
  REQUIRE(Blocks->size() == 2);
  const llvm::json::Object &B = *(*Blocks)[1].getAsObject();
  CHECK(*B.getInteger("index") == 1);
  CHECK(*B.getString("norm") == "pre");
  CHECK(*B.getObject("attention")->getInteger("heads") == 2);
  CHECK(*B.getObject("attention")->getBoolean("scaled"));
  CHECK(B.getObject("stream_grad_norm")->getObject("input")->getNumber("est"));
  bool SawQuery = false;
  for (const llvm::json::Value &P : *O.getArray("parameters")) {
    const llvm::json::Object &Obj = *P.getAsObject();
    if (Obj.getString("role") && *Obj.getString("role") == "attention.q") {
      SawQuery = true;
      CHECK(Obj.getString("parent"));
      CHECK(Obj.getInteger("block"));
    }
  }
  CHECK(SawQuery);
  CHECK(O.getArray("findings")->empty());
}
