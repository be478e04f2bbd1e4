//===- MeasuredZoo.h - a zoo model analysed and measured --------*- C++ -*-===//
//
// For tests that compare the static analysis' forward summaries with the
// probe's forward pass (measureCalibration) on one zoo model.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_TEST_ANALYSIS_MEASUREDZOO_H
#define GRADLINT_TEST_ANALYSIS_MEASUREDZOO_H

#include "Zoo.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Loader/Loader.h"
#include <algorithm>
#include <catch2/catch.hpp>

namespace gradlint::test {

struct MeasuredModel {
  std::unique_ptr<Model> M;
  std::shared_ptr<const Calibration> Measured; ///< the probe's forward statistics
  AnalysisResult Static;                       ///< the static analysis
};

/// Loads zoo model Name, measures it with the probe (16 forward passes)
/// and analyses it statically, at the zoo's dims.
inline MeasuredModel measureZooModel(const std::string &Name) {
  ZooModel Z = zooModel(Name);
  auto M = loadModel(Z.modelPath());
  REQUIRE(bool(M));
  auto C = measureCalibration(**M, Z.dims(), nullptr);
  REQUIRE(bool(C));
  REQUIRE(bool(inferShapes(**M, Z.dims())));
  auto R = analyze(**M);
  REQUIRE(bool(R));
  return {std::move(*M), *C, std::move(*R)};
}

} // namespace gradlint::test

#endif
