//===- Device.h - choosing a backend, loading the CUDA plugin ---*- C++ -*-===//
#ifndef GRADLINT_PROBE_DEVICE_H
#define GRADLINT_PROBE_DEVICE_H

#include "gradlint/Probe/Backend.h"
#include <memory>

namespace gradlint::probe {

/// The plugin ABI: libgradlint_cuda.so exports
///   extern "C" gradlint::probe::Backend *
///   gradlint_create_backend(unsigned AbiVersion, unsigned Threads);
/// returning null (and printing nothing) when it cannot start.
constexpr unsigned PluginAbiVersion = 1;
constexpr const char *CudaPluginName = "libgradlint_cuda.so";
constexpr const char *PluginEntryName = "gradlint_create_backend";

/// "cpu" (always built) or "cuda" (dlopen of the plugin, searched next to
/// the gradlint binary, in ../lib, then on the loader's path).
llvm::Expected<std::unique_ptr<Backend>> createBackend(llvm::StringRef Device,
                                                       unsigned Threads);

} // namespace gradlint::probe

#endif
