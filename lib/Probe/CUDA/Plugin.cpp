//===- Plugin.cpp - the plugin's entry points and its error values --------===//
//
// libgradlint_cuda.so exports the entry point of Device.h and, beside it,
// gradlint_cuda_error(): why the last gradlint_create_backend returned null
// (no driver, no device, ...), for the host to print.
//
// An llvm::Error made here reaches the host program intact only if both use
// one copy of LLVMSupport (the host exports its symbols, or links LLVM as a
// shared library): the payload's class identity is the address of a static
// in LLVMSupport. When the plugin runs on its own copy, an error cannot be
// passed back, and it is printed as one line with exit code 2 instead.
//
//===----------------------------------------------------------------------===//
#include "CUDABackend.h"
#include "gradlint/Probe/Device.h"
#include <dlfcn.h>

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {
std::string LastWhy;

/// Whether llvm::Error payloads made here are recognized by the host.
bool errorsReachHost() {
  Dl_info Mine, Id;
  if (!dladdr(reinterpret_cast<void *>(&errorsReachHost), &Mine) ||
      !dladdr(llvm::ErrorInfoBase::classID(), &Id))
    return false;
  return Mine.dli_fbase != Id.dli_fbase;
}
} // namespace

extern "C" __attribute__((visibility("default"))) Backend *
gradlint_create_backend(unsigned AbiVersion, unsigned Threads) {
  LastWhy.clear();
  if (AbiVersion != PluginAbiVersion) {
    LastWhy = "the CUDA plugin speaks plugin ABI " +
              std::to_string(PluginAbiVersion) + " but gradlint asked for " +
              std::to_string(AbiVersion) + "; rebuild the plugin with gradlint";
    return nullptr;
  }
  return CUDABackend::start(LastWhy);
}

extern "C" __attribute__((visibility("default"))) const char *
gradlint_cuda_error() {
  return LastWhy.c_str();
}

llvm::Error CUDABackend::takeFailure() {
  if (!errorsReachHost())
    die();
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "--device cuda: " + Failure);
}

llvm::Expected<DeviceBuffer> CUDABackend::allocate(uint64_t Bytes) {
  void *P = allocateRaw(Bytes);
  if (!P)
    return takeFailure();
  return DeviceBuffer{P, Bytes};
}
