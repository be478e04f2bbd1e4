//===- CUDAPluginTest.cpp - the plugin loads, starts or says why not ------===//
//
// Runs wherever the plugin was built, GPU or not: the plugin must load
// (cuBLAS and the static CUDA runtime resolve, no undefined symbol), export
// its entry points, and either start a device or return a one-line reason;
// `gradlint probe --device cuda` then exits 0, or 2 with one line. gradlint
// itself must not depend on any CUDA library.
//
//===----------------------------------------------------------------------===//
#include "CUDATest.h"
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "gradlint/Probe/Device.h"
#include <catch2/catch.hpp>
#include <dlfcn.h>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::test;

TEST_CASE("cuda plugin: loads, and starts a device or says why not",
          "[probe][cudaplugin]") {
  if (!cudaPluginBuilt())
    GRADLINT_SKIP("the CUDA plugin was not built (no CUDA toolkit when CMake ran)");
  void *H = loadCudaPlugin();
  using EntryFn = Backend *(*)(unsigned, unsigned);
  using ErrorFn = const char *(*)();
  auto Entry = reinterpret_cast<EntryFn>(dlsym(H, PluginEntryName));
  auto Why = reinterpret_cast<ErrorFn>(dlsym(H, "gradlint_cuda_error"));
  REQUIRE(Entry);
  REQUIRE(Why);
  CHECK(Entry(PluginAbiVersion + 1, 1) == nullptr);
  CHECK(llvm::StringRef(Why()).contains("ABI"));

  std::string Reason;
  std::unique_ptr<Backend> B = startCuda(Reason);
  if (B) {
    CHECK(B->name() == "cuda");
    auto Buf = B->allocate(4096);
    REQUIRE(static_cast<bool>(Buf));
    std::vector<float> In(1024), Out(1024);
    for (size_t I = 0; I != In.size(); ++I)
      In[I] = static_cast<float>(I) * 0.5f;
    B->upload(Buf->Base, 0, In.data(), 4096);
    B->fill(FPtr{Buf->Base, 1000}, 24, 3.0f);
    B->download(Out.data(), Buf->Base, 0, 4096);
    for (size_t I = 1000; I != 1024; ++I)
      In[I] = 3.0f;
    CHECK(In == Out);
    B->release(*Buf);
  } else {
    INFO(Reason);
    CHECK(llvm::StringRef(Reason).startswith("--device cuda:"));
    CHECK(Reason.find('\n') == std::string::npos);
    CHECK(*Why() != 0);
  }

  // The command line: exit 0 with a device, else 2 and one line.
  std::string Dir = makeTempDir("cudaplugin");
  OnnxBuilder M;
  M.input("x", 1, {std::string("batch"), int64_t(16)})
      .floatInit("w", {16, 4}, std::vector<float>(64, 0.1f))
      .node("MatMul", {"x", "w"}, {"y"})
      .output("y")
      .writeTo(Dir + "/m.onnx");
  std::string Out, Err;
  int Code = runCommand(std::string(GRADLINT_BINARY) + " probe '" + Dir +
                            "/m.onnx' --device cuda --dim batch=4",
                        Out, Err);
  std::system(("rm -rf '" + Dir + "'").c_str());
  INFO(Err);
  if (B) {
    CHECK(Code == 0);
  } else {
    CHECK(Code == 2);
    CHECK(llvm::StringRef(Err).contains("--device cuda"));
    CHECK(llvm::StringRef(Err).count('\n') == 1);
  }
}

TEST_CASE("cuda plugin: the gradlint binary does not link CUDA",
          "[probe][cudaplugin]") {
  std::string Out, Err;
  if (runCommand("readelf -d '" + std::string(GRADLINT_BINARY) + "'", Out, Err) != 0)
    GRADLINT_SKIP("readelf is not available");
  INFO(Out);
  CHECK(Out.find("(NEEDED)") != std::string::npos);
  for (const char *Lib : {"libcuda", "libcudart", "libcublas"})
    CHECK(Out.find(Lib) == std::string::npos);
}
