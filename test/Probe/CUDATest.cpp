//===- CUDATest.cpp - the CUDA backend in tests ---------------------------===//
#include "CUDATest.h"
#include "TestPaths.h"
#include "gradlint/Probe/Device.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <dlfcn.h>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::test;

bool gradlint::test::cudaPluginBuilt() {
#ifdef GRADLINT_CUDA_PLUGIN
  return true;
#else
  return false;
#endif
}

void *gradlint::test::loadCudaPlugin() {
#ifdef GRADLINT_CUDA_PLUGIN
  // By absolute path; its soname then satisfies Device.cpp's search, which
  // looks next to the gradlint binary, not next to the test binary.
  static void *Handle = dlopen(GRADLINT_CUDA_PLUGIN, RTLD_NOW | RTLD_GLOBAL);
  if (!Handle) {
    const char *E = dlerror();
    FAIL("the CUDA plugin " << GRADLINT_CUDA_PLUGIN
                            << " was built but does not load: "
                            << (E ? E : "?"));
  }
  return Handle;
#else
  return nullptr;
#endif
}

std::unique_ptr<Backend> gradlint::test::startCuda(std::string &Why) {
  if (!cudaPluginBuilt()) {
    Why = "the CUDA plugin was not built (no CUDA toolkit when CMake ran)";
    return nullptr;
  }
  void *Handle = loadCudaPlugin();
  auto B = createBackend("cuda", 2);
  if (B)
    return std::move(*B);
  Why = llvm::toString(B.takeError());
  using ErrorFn = const char *(*)();
  if (auto Fn = reinterpret_cast<ErrorFn>(dlsym(Handle, "gradlint_cuda_error")))
    if (*Fn())
      Why += std::string(": ") + Fn();
  return nullptr;
}

std::unique_ptr<Backend> gradlint::test::cudaBackendOrSkip() {
  std::string Why;
  auto B = startCuda(Why);
  if (B)
    return B;
  const char *Require = std::getenv("GRADLINT_REQUIRE_CUDA");
  if (Require && std::string(Require) == "1")
    FAIL("GRADLINT_REQUIRE_CUDA=1 but no CUDA backend: " << Why);
  GRADLINT_SKIP("no CUDA backend: " << Why);
  return nullptr;
}

void gradlint::test::requireCudaOrSkip() { cudaBackendOrSkip(); }

bool gradlint::test::closeRelative(const std::vector<float> &A,
                                   const std::vector<float> &E, double Tol,
                                   std::string &Why) {
  if (A.size() != E.size()) {
    Why = "sizes differ: " + std::to_string(A.size()) + " vs " +
          std::to_string(E.size());
    return false;
  }
  double Scale = 0;
  for (float X : E)
    if (std::isfinite(X))
      Scale = std::max(Scale, std::fabs(double(X)));
  double Worst = 0;
  size_t At = 0;
  for (size_t I = 0; I != A.size(); ++I) {
    double X = A[I], Y = E[I];
    if (std::isnan(X) || std::isnan(Y) || std::isinf(X) || std::isinf(Y)) {
      if ((std::isnan(X) && std::isnan(Y)) || X == Y)
        continue;
      Why = "element " + std::to_string(I) + " is " + std::to_string(X) +
            ", expected " + std::to_string(Y);
      return false;
    }
    double D = std::fabs(X - Y);
    if (D > Worst)
      Worst = D, At = I;
  }
  if (Worst <= Tol * Scale)
    return true;
  Why = "element " + std::to_string(At) + " is " + std::to_string(A[At]) +
        ", expected " + std::to_string(E[At]) + " (error " +
        std::to_string(Worst / (Scale > 0 ? Scale : 1)) +
        " of the tensor's max " + std::to_string(Scale) + ")";
  return false;
}
