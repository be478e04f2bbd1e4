//===- ConfigTest.cpp - gradlint.toml semantics ---------------------------===//
#include "gradlint/Rules/Config.h"
#include "OnnxBuilder.h"
#include "gradlint/Rules/Registry.h"
#include <catch2/catch.hpp>
#include <sys/stat.h>

using namespace gradlint;
using namespace gradlint::test;

TEST_CASE("config: every table and key", "[rules][config]") {
  auto C = parseConfig(R"([check]
select = ["GL1"]
ignore = ["GL113", "init-scale"]
fail-on = "warning"
precision = "fp16"
loss = "ce"
[dims]
batch = 4
[rules.GL101]
severity = "error"
ratio = 1e-4
[rules.dead-relu]
severity = "off"
[[suppress]]
rules = ["GL111"]
parameters = ["h.*.attn.c_proj.weight"]
reason = "GPT-2 init"
[[suppress]]
nodes = ["/h.0/*"]
)",
                       "gradlint.toml");
  REQUIRE(bool(C));
  CHECK(*C->FailOn == "warning");
  CHECK(*C->Precision == "fp16");
  CHECK(*C->Loss == "ce");
  CHECK(C->Dims.at("batch") == 4);
  const Rule *GL101 = findRule("GL101");
  CHECK(*C->Rules.at(GL101).Level == Severity::Error);
  CHECK(C->Rules.at(GL101).Options.at("ratio") == 1e-4);
  CHECK(C->Rules.at(findRule("GL110")).Off);
  REQUIRE(C->Suppressions.size() == 2);
  CHECK(C->Suppressions[0].Rules ==
        std::vector<const Rule *>{findRule("GL111")});
  CHECK(C->Suppressions[0].Reason == "GPT-2 init");
  CHECK(C->Suppressions[1].Line == 18);
  auto Rules = selectRules(*C->Select, *C->Ignore, "config");
  REQUIRE(bool(Rules));
  CHECK(Rules->size() == allRules().size() - 2);
  CHECK(!llvm::is_contained(*Rules, findRule("GL111")));
}

TEST_CASE("config: mistakes are errors at file:line", "[rules][config]") {
  struct Case {
    const char *Text, *Message;
  } Cases[] = {
      {"[check]\nfail-on = \"sometimes\"\n",
       "c.toml:2: 'fail-on' must be one of error, warning, note, never, not "
       "'sometimes'"},
      {"[check]\nselect = \"GL1\"\n",
       "c.toml:2: 'select' must be an array of strings, not a string"},
      {"[check]\nselect = [\"GL9\"]\n",
       "c.toml:2: 'select' names no rule: 'GL9'"},
      {"[check]\ncolour = true\n", "c.toml:2: unknown key 'colour' in [check]"},
      {"[rules.GL999]\n", "c.toml:1: no rule named 'GL999'"},
      {"\n[rules.GL101]\nratioo = 1\n",
       "c.toml:3: unknown option 'ratioo' for GL101 vanishing-gradient; it "
       "takes severity, ratio, error-ratio"},
      {"[rules.GL101]\nratio = \"small\"\n",
       "c.toml:2: option 'ratio' must be a number, not a string"},
      {"[rules.GL101]\nseverity = \"fatal\"\n",
       "c.toml:2: 'severity' must be one of error, warning, note, off"},
      {"[dims]\nbatch = 0\n", "c.toml:2: dimension 'batch' must be positive"},
      {"[dims]\nbatch = \"8\"\n",
       "c.toml:2: 'batch' must be an integer, not a string"},
      {"[[suppress]]\nreason = \"x\"\n",
       "c.toml:1: [[suppress]] needs rules, parameters or nodes"},
      {"[[suppress]]\nnodes = [\"[a\"]\n", "c.toml:2: bad glob '[a'"},
      {"[suppress]\nnodes = [\"a\"]\n",
       "c.toml:1: write suppressions as [[suppress]]"},
      {"[lint]\n", "c.toml:1: unknown table [lint]"},
      {"top = 1\n", "c.toml:1: 'top' must be inside a table such as [check]"},
      {"[rules.GL101]\n[rules.vanishing-gradient]\n",
       "c.toml:2: settings for GL101 given twice"},
  };
  for (const Case &C : Cases) {
    INFO(C.Text);
    auto R = parseConfig(C.Text, "c.toml");
    REQUIRE(!R);
    std::string Message = llvm::toString(R.takeError());
    CHECK(Message.rfind(C.Message, 0) == 0);
  }
}

TEST_CASE("config: select and ignore by code, prefix, name and ALL",
          "[rules][config]") {
  auto Codes = [](std::vector<std::string> Select,
                  std::vector<std::string> Ignore) {
    auto R = selectRules(Select, Ignore, "test");
    REQUIRE(bool(R));
    std::vector<std::string> Out;
    for (const Rule *Ru : *R)
      Out.push_back(Ru->Code.str());
    return Out;
  };
  CHECK(Codes({"GL103"}, {}) == std::vector<std::string>{"GL103"});
  CHECK(Codes({"softmax-saturation", "gl101"}, {}) ==
        std::vector<std::string>{"GL101", "GL103"});
  CHECK(Codes({"GL10"}, {"GL109"}).size() == 8); // GL101-GL108
  CHECK(Codes({"GL11"}, {}) ==
        std::vector<std::string>{"GL110", "GL111", "GL112", "GL113"});
  CHECK(Codes({}, {"ALL"}).empty());
  CHECK(Codes({"ALL"}, {}).size() == allRules().size());
  CHECK(!selectRules({"nonsense"}, {}, "--select"));
  CHECK(splitCodeList("GL101, GL102 GL103") ==
        std::vector<std::string>{"GL101", "GL102", "GL103"});
}

TEST_CASE("config: suppressions match rules, parameters and nodes by glob",
          "[rules][config]") {
  Finding F;
  F.Code = "GL111";
  F.Parameter = "h.3.attn.c_proj.weight";
  F.Node = "/h.3/attn/c_proj/MatMul";
  Suppression ByParam;
  ByParam.Parameters = {"h.*.attn.c_proj.weight"};
  CHECK(isSuppressed(ByParam, F));
  ByParam.Rules = {findRule("GL101")};
  CHECK(!isSuppressed(ByParam, F));
  Suppression ByNode;
  ByNode.Nodes = {"/h.3/*"};
  CHECK(isSuppressed(ByNode, F));
  ByNode.Nodes = {"/h.4/*"};
  CHECK(!isSuppressed(ByNode, F));
  Suppression ByRule;
  ByRule.Rules = {findRule("init-scale")};
  CHECK(isSuppressed(ByRule, F));
  Finding NoParam;
  NoParam.Code = "GL111";
  Suppression NeedsParam;
  NeedsParam.Parameters = {"*"};
  CHECK(!isSuppressed(NeedsParam, NoParam));
}

TEST_CASE("config: gradlint.toml is found upward from the model",
          "[rules][config]") {
  std::string Dir = makeTempDir("config");
  std::string Sub = Dir + "/models/v1";
  mkdir((Dir + "/models").c_str(), 0755);
  mkdir(Sub.c_str(), 0755);
  writeFile(Dir + "/gradlint.toml", "[check]\n");
  CHECK(findConfig(Sub + "/model.onnx") == Dir + "/gradlint.toml");
  writeFile(Sub + "/gradlint.toml", "[check]\n");
  CHECK(findConfig(Sub + "/model.onnx") == Sub + "/gradlint.toml");
  std::system(("rm -rf '" + Dir + "'").c_str());
}
