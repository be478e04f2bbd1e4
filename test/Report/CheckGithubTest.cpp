//===- CheckGithubTest.cpp - workflow annotations -------------------------===//
#include "CheckTestSupport.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

TEST_CASE("check github: one annotation line per finding", "[check][github]") {
  CheckDir D;
  Run R = D.check("./saturated.onnx --format github");
  REQUIRE(R.Code == 0);
  std::vector<std::string> Lines;
  for (size_t At = 0; At < R.Out.size();) {
    size_t End = R.Out.find('\n', At);
    Lines.push_back(R.Out.substr(At, End - At));
    At = End + 1;
  }
  REQUIRE(Lines.size() == 2);
  CHECK(Lines[0].rfind(
            "::warning file=saturated.onnx,line=1,title=GL109 "
            "saturating-activation::tanh saturates: 68%25 of its input has "
            "|x| >= 5 (input RMS 12) (node /act/Tanh)%0Anote: ",
            0) == 0);
  CHECK(Lines[1].rfind(
            "::warning file=saturated.onnx,line=1,title=GL111 init-scale::",
            0) == 0);
  // Percent signs and newlines are escaped: one finding, one line.
  CHECK(Lines[0].find("68% ") == std::string::npos);
}
