//===- CheckConfigTest.cpp - gradlint.toml and baselines on the CLI -------===//
#include "CheckTestSupport.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

TEST_CASE("check config: found beside the model; severities and suppressions",
          "[check][config]") {
  CheckDir D;
  writeFile(D.Dir + "/gradlint.toml", "[rules.GL109]\nseverity = \"error\"\n"
                                      "[[suppress]]\nrules = [\"init-scale\"]\n"
                                      "parameters = [\"W\"]\n");
  Run R = D.check("saturated.onnx");
  CHECK(R.Code == 1);
  CHECK(R.Out.find("saturated.onnx: error: tanh saturates") !=
        std::string::npos);
  CHECK(R.Out.find("[GL111]") == std::string::npos);
  CHECK(R.Out.find("0 notes; 1 suppressed by ") != std::string::npos);
  // The command line wins over the file.
  CHECK(D.check("saturated.onnx --fail-on never").Code == 0);
}

TEST_CASE("check config: [check] and [dims] apply; --config picks a file",
          "[check][config]") {
  CheckDir D;
  writeFile(D.Dir + "/other.toml",
            "[check]\nfail-on = \"warning\"\nselect = [\"GL111\"]\n"
            "[dims]\nbatch = 3\n");
  Run R = D.check("saturated.onnx --config other.toml --format json");
  CHECK(R.Code == 1);
  CHECK(R.Out.find("\"batch\": 3") != std::string::npos);
  CHECK(R.Out.find("\"GL109\"") == std::string::npos);
}

TEST_CASE("check config: a bad file is one line naming file:line, exit 2",
          "[check][config]") {
  CheckDir D;
  writeFile(D.Dir + "/gradlint.toml", "[check]\n\nfail-on = \"sometimes\"\n");
  Run R = D.check("saturated.onnx");
  CHECK(R.Code == 2);
  CHECK(R.Err.find(
            "/gradlint.toml:3: 'fail-on' must be one of error, warning, note, "
            "never, not 'sometimes'\n") != std::string::npos);
  CHECK(R.Err.find('\n') == R.Err.size() - 1);
}

TEST_CASE("check baseline: record, then report only new findings",
          "[check][baseline]") {
  CheckDir D;
  Run W =
      D.check("saturated.onnx --fail-on warning --write-baseline base.json");
  CHECK(W.Code == 0); // recording accepts what it records
  CHECK(slurp(D.Dir + "/base.json").find("\"gradlint.baseline/1\"") !=
        std::string::npos);
  Run R = D.check("saturated.onnx --fail-on warning --baseline base.json");
  CHECK(R.Code == 0);
  CHECK(R.Out.find("no findings; 2 in the baseline") != std::string::npos);
  // A finding the baseline does not know is reported.
  writeFile(D.Dir + "/gradlint.toml", "[rules.GL109]\nthreshold = 4\n");
  Run Same = D.check("saturated.onnx --fail-on warning --baseline base.json");
  CHECK(Same.Code == 0); // same rule, node and parameter: same fingerprint
  writeFile(D.Dir + "/base.json",
            "{\"schema\": \"gradlint.baseline/1\", \"findings\": []}");
  CHECK(D.check("saturated.onnx --fail-on warning --baseline base.json").Code ==
        1);
}
