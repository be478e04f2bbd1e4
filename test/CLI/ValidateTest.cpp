//===- ValidateTest.cpp - `gradlint validate` against `gradlint probe` ----===//
#include "TestPaths.h"
#include "Zoo.h"
#include "llvm/Support/JSON.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

using namespace gradlint;
using namespace gradlint::test;

namespace {
llvm::json::Value runJson(const std::string &Args) {
  std::string Out, Err;
  int Code = runCommand(std::string(GRADLINT_BINARY) + " " + Args, Out, Err);
  INFO(Args << "\n" << Err);
  REQUIRE(Code == 0);
  auto J = llvm::json::parse(Out);
  REQUIRE(bool(J));
  return std::move(*J);
}
} // namespace

TEST_CASE("zoo: validate's measurements are the probe's, and its summary follows",
          "[zoo][cli][validate]") {
  ZooModel Z = zooModel("gpt_L2_d64");
  std::string Dims;
  for (const auto &[Name, V] : Z.dims())
    Dims += " --dim " + Name + "=" + std::to_string(V);
  llvm::json::Value V = runJson("validate --format json --seeds 1" + Dims + " " + Z.modelPath());
  llvm::json::Value P = runJson("probe --format json" + Dims + " " + Z.modelPath());
  const llvm::json::Object &VO = *V.getAsObject();
  CHECK(VO.getString("schema") == llvm::Optional<llvm::StringRef>("gradlint.validate/1"));
  std::map<std::string, double> Probe;
  for (const llvm::json::Value &X : *P.getAsObject()->getArray("parameters"))
    Probe[X.getAsObject()->getString("name")->str()] = *X.getAsObject()->getNumber("grad_norm");
  std::vector<double> Err;
  unsigned Inside = 0;
  const llvm::json::Array &Params = *VO.getArray("parameters");
  REQUIRE(Params.size() >= 10);
  for (const llvm::json::Value &X : Params) {
    const llvm::json::Object &O = *X.getAsObject();
    std::string Name = O.getString("name")->str();
    double Measured = *O.getNumber("measured");
    const llvm::json::Object &G = *O.getObject("grad_norm");
    double Est = *G.getNumber("est"), Lo = *G.getNumber("lo"), Hi = *G.getNumber("hi");
    INFO(Name);
    REQUIRE(Probe.count(Name));
    CHECK(Measured == Approx(Probe[Name]).epsilon(1e-12)); // one seed: the probe's value
    bool In = Measured >= Lo && Measured <= Hi;
    CHECK(*O.getBoolean("inside") == In);
    Inside += In;
    Err.push_back(std::fabs(std::log10(Est / Measured)));
  }
  std::sort(Err.begin(), Err.end());
  const llvm::json::Object &S = *VO.getObject("summary");
  CHECK(*S.getNumber("median_abs_log10_error") == Approx(Err[Err.size() / 2]));
  CHECK(*S.getNumber("inside_interval") == Approx(double(Inside) / Params.size()));
  // A healthy model: the predictions hold against one seed's measurement.
  CHECK(*S.getNumber("median_abs_log10_error") < 0.15);
  CHECK(*S.getNumber("spearman") > 0.8);
}
