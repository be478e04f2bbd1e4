//===- GL112-layernorm-epsilon.cpp - tests --------------------------------===//
#include "RuleFixture.h"

using namespace gradlint;
using namespace gradlint::test;

static NormInfo norm(RuleFixture &F, double Eps,
                     NormKind K = NormKind::LayerNorm) {
  NormInfo N;
  N.Kind = K;
  N.Epsilon = Eps;
  N.Sublayer = "attention";
  N.Nodes = {
      F.addNode("/h.0/ln_1/LayerNormalization", OpKind::LayerNormalization)};
  N.Input = F.addValue("ln_in");
  return N;
}

TEST_CASE("GL112: epsilon 0.4 of the input variance", "[rules][GL112]") {
  RuleFixture F;
  NormInfo N = norm(F, 1e-5);
  F.A.Facts[N.Nodes[0]].NormInputVar = 2.5e-5;
  F.block().Norms.push_back(N);
  auto Out = F.run("GL112");
  REQUIRE(Out.size() == 1);
  CHECK(Out[0].Message ==
        "layernorm in block 0 (attention) has epsilon 1e-5, 0.4 of "
        "its input variance 2.5e-5: it scales its output and "
        "gradient by 0.845");
  CHECK(*Out[0].Evidence.getNumber("output_scale") ==
        Approx(std::sqrt(2.5 / 3.5)));
  CHECK(Out[0].Remedies[0] ==
        "use epsilon 1e-7 (at most 1% of the input variance)");
}

TEST_CASE("GL112: variance over the normalized axis from per-feature moments",
          "[rules][GL112]") {
  // Features iid N(0, 1e-5) over d = 8: the expected row variance is
  // (d-1)/d * 1e-5 = 8.75e-6, so epsilon 1e-5 is 1.14 of it.
  RuleFixture F;
  NormInfo N = norm(F, 1e-5);
  F.A.Forward[N.Input] = gaussian(0, 1e-5, 8);
  F.S.FinalNorms.push_back(N);
  auto Out = F.run("GL112");
  REQUIRE(Out.size() == 1);
  CHECK(*Out[0].Evidence.getNumber("input_variance") == Approx(8.75e-6));
  CHECK(Out[0].Block == -1);
  // RMSNorm divides by the mean square itself: 1e-5.
  RuleFixture R;
  NormInfo Rms = norm(R, 1e-5, NormKind::RMSNorm);
  R.A.Forward[Rms.Input] = gaussian(0, 1e-5, 8);
  R.S.FinalNorms.push_back(Rms);
  auto RmsOut = R.run("GL112");
  REQUIRE(RmsOut.size() == 1);
  CHECK(*RmsOut[0].Evidence.getNumber("input_variance") == Approx(1e-5));
}

TEST_CASE("GL112: epsilon 1e-5 on unit inputs passes", "[rules][GL112]") {
  RuleFixture F;
  NormInfo N = norm(F, 1e-5);
  F.A.Forward[N.Input] = gaussian(0.1, 1, 64);
  F.block().Norms.push_back(N);
  CHECK(F.run("GL112").empty());
}
