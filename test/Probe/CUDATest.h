//===- CUDATest.h - the CUDA backend in tests, or a visible skip -*- C++ -*-===//
//
// [cuda] tests compare the CUDA plugin with the CPU backend. Where the plugin
// was not built or cannot start a device (no driver, no GPU: CI), they skip
// with the reason (exit 77, CTest "Skipped"). GRADLINT_REQUIRE_CUDA=1 (set by
// test/gpu/run.sh) turns that skip into a failure, so a GPU run cannot pass
// by skipping. A plugin that was built but does not load always fails.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_TEST_PROBE_CUDATEST_H
#define GRADLINT_TEST_PROBE_CUDATEST_H

#include "gradlint/Probe/Backend.h"
#include <memory>
#include <string>
#include <vector>

namespace gradlint::test {

/// Whether the build has the plugin (the CUDA toolkit was found).
bool cudaPluginBuilt();
/// Loads the built plugin so that createBackend("cuda") finds it; fails the
/// test when it does not load. Returns the dlopen handle (null if not built).
void *loadCudaPlugin();
/// The CUDA backend, or "" and the reason it cannot start.
std::unique_ptr<probe::Backend> startCuda(std::string &Why);
/// The CUDA backend; skips the test (or fails it under GRADLINT_REQUIRE_CUDA)
/// when there is none.
std::unique_ptr<probe::Backend> cudaBackendOrSkip();
/// Sets the process up so that runProbe(..., Device "cuda") works, or skips.
void requireCudaOrSkip();

/// max |A - E| <= Tol * max |E| (the tensor's scale), with NaNs and
/// infinities in the same places; on failure Why names the worst element.
bool closeRelative(const std::vector<float> &A, const std::vector<float> &E,
                   double Tol, std::string &Why);

} // namespace gradlint::test

#endif
