//===- TomlTest.cpp - the TOML subset parser ------------------------------===//
#include "gradlint/Rules/Toml.h"
#include <catch2/catch.hpp>

using namespace gradlint;

TEST_CASE("toml: tables, arrays of tables and every value kind",
          "[rules][toml]") {
  auto Doc = parseToml(R"(# comment
[check]
select = ["GL1", 'GL2',]   # trailing comma
fail-on = "warning"
[dims]
batch = 8
big = 1_000
neg = -3
[rules."GL101"]
ratio = 1e-4
half = 0.5
on = true
off = false
[[suppress]]
nodes = [
  "/h.0/*",  # comment inside
  "esc\"aped\u00e9",
]
[[suppress]]
reason = 'literal \n stays'
)",
                       "gradlint.toml");
  REQUIRE(bool(Doc));
  REQUIRE(Doc->Tables.size() == 6);
  const TomlTable &Check = Doc->Tables[1];
  CHECK(Check.name() == "check");
  CHECK(Check.Line == 2);
  CHECK(Check.Entries[0].Value.Strings ==
        std::vector<std::string>{"GL1", "GL2"});
  CHECK(Check.Entries[1].Value.Str == "warning");
  CHECK(Check.Entries[1].Line == 4);
  const TomlTable &Dims = Doc->Tables[2];
  CHECK(Dims.Entries[0].Value.Int == 8);
  CHECK(Dims.Entries[1].Value.Int == 1000);
  CHECK(Dims.Entries[2].Value.Int == -3);
  const TomlTable &Rule = Doc->Tables[3];
  CHECK(Rule.Path == std::vector<std::string>{"rules", "GL101"});
  CHECK(Rule.Entries[0].Value.K == TomlValue::Kind::Float);
  CHECK(Rule.Entries[0].Value.Float == 1e-4);
  CHECK(Rule.Entries[1].Value.number() == 0.5);
  CHECK(Rule.Entries[2].Value.Bool);
  CHECK(!Rule.Entries[3].Value.Bool);
  CHECK(Doc->Tables[4].ArrayElement);
  CHECK(Doc->Tables[4].Entries[0].Value.Strings[1] == "esc\"aped\xc3\xa9");
  CHECK(Doc->Tables[5].Entries[0].Value.Str == "literal \\n stays");
}

TEST_CASE("toml: errors name file and line", "[rules][toml]") {
  struct Case {
    const char *Text;
    const char *Message;
  } Cases[] = {
      {"[check]\nselect = [\"a\", 1]\n",
       "f.toml:2: arrays may hold only strings here"},
      {"[a]\nx = 1\nx = 2\n", "f.toml:3: duplicate key 'x' (first at line 2)"},
      {"[a]\n[a]\n", "f.toml:2: table [a] defined twice (first at line 1)"},
      {"[a]\nx.y = 1\n", "f.toml:2: dotted keys are not supported"},
      {"[a]\nx = {y = 1}\n", "f.toml:2: inline tables are not supported"},
      {"[a]\nx = \"open\n", "f.toml:2: string is not closed on this line"},
      {"[a]\nx = \"\"\"\nmulti\n\"\"\"\n",
       "f.toml:2: multi-line strings are not supported"},
      {"[a]\nx = 1979-05-27\n",
       "f.toml:2: '1979-05-27': dates and times are not supported"},
      {"[a]\nx = 0x1f\n",
       "f.toml:2: '0x1f': only decimal numbers are supported"},
      {"[a]\nx = 012\n", "f.toml:2: '012': leading zeros are not allowed"},
      {"[a]\nx = nope\n",
       "f.toml:2: 'nope' is not a value (strings need quotes)"},
      {"[a]\nx = 1 2\n", "f.toml:2: unexpected '2' after the value"},
      {"[a\n", "f.toml:1: expected ']' to close the table header"},
      {"\n\n[a]\nx = [\"a\"\n", "f.toml:4: array is not closed"},
      {"[a]\nx = \"\\q\"\n", "f.toml:2: unknown escape '\\q' in a string"},
      {"[a]\n= 3\n", "f.toml:2: expected a key, found '='"},
      {"[a]\nx =\n", "f.toml:2: expected a value"},
      {"[a]\nx = 1.\n",
       "f.toml:2: '1.': a decimal point needs digits after it"},
      {"[a]\nx = 99999999999999999999\n",
       "f.toml:2: '99999999999999999999' is not an integer in range"},
  };
  for (const Case &C : Cases) {
    INFO(C.Text);
    auto Doc = parseToml(C.Text, "f.toml");
    REQUIRE(!Doc);
    std::string Message = llvm::toString(Doc.takeError());
    CHECK(Message.rfind(C.Message, 0) == 0);
    CHECK(Message.find('\n') == std::string::npos);
  }
}
