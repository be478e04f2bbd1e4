//===- Device.cpp - backend selection and the CUDA plugin -----------------===//
#include "gradlint/Probe/Device.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace gradlint;
using namespace gradlint::probe;

namespace {
using EntryFn = Backend *(*)(unsigned AbiVersion, unsigned Threads);

llvm::Expected<std::unique_ptr<Backend>> loadPlugin(unsigned Threads) {
  std::vector<std::string> Candidates;
  std::string Exe = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  if (!Exe.empty()) {
    llvm::SmallString<256> Dir(llvm::sys::path::parent_path(Exe));
    llvm::SmallString<256> Here(Dir), Lib(Dir);
    llvm::sys::path::append(Here, CudaPluginName);
    llvm::sys::path::append(Lib, "..", "lib", CudaPluginName);
    Candidates.push_back(std::string(Here));
    Candidates.push_back(std::string(Lib));
  }
  Candidates.push_back(CudaPluginName);
  std::string LastError;
  for (const std::string &Path : Candidates) {
    if (Path.find('/') != std::string::npos && !llvm::sys::fs::exists(Path))
      continue;
    std::string Err;
    auto Lib = llvm::sys::DynamicLibrary::getPermanentLibrary(Path.c_str(), &Err);
    if (!Lib.isValid()) {
      // A file that exists but does not load is worth naming; a bare name
      // the loader cannot find just means the plugin was not built.
      if (Path.find('/') != std::string::npos)
        LastError = Err;
      continue;
    }
    auto Entry = reinterpret_cast<EntryFn>(Lib.getAddressOfSymbol(PluginEntryName));
    if (!Entry)
      return makeError("--device cuda: " + Path + " does not export " +
                       PluginEntryName);
    Backend *B = Entry(PluginAbiVersion, Threads);
    if (!B) {
      // The plugin says why (no driver, no device, ABI mismatch, ...).
      using WhyFn = const char *(*)();
      auto Why = reinterpret_cast<WhyFn>(Lib.getAddressOfSymbol("gradlint_cuda_error"));
      const char *Reason = Why ? Why() : nullptr;
      return makeError("--device cuda: the CUDA plugin could not start a device: " +
                       llvm::Twine(Reason && *Reason ? Reason
                                                     : "no GPU, or a driver/ABI mismatch"));
    }
    return std::unique_ptr<Backend>(B);
  }
  if (!LastError.empty())
    return makeError("--device cuda: the CUDA plugin " + llvm::Twine(CudaPluginName) +
                     " could not be loaded: " + LastError);
  return makeError("--device cuda: the CUDA plugin " + llvm::Twine(CudaPluginName) +
                   " was not found (this gradlint was built without CUDA); "
                   "use --device cpu");
}
} // namespace

llvm::Expected<std::unique_ptr<Backend>>
gradlint::probe::createBackend(llvm::StringRef Device, unsigned Threads) {
  if (Device == "cpu")
    return createCPUBackend(Threads);
  if (Device == "cuda")
    return loadPlugin(Threads);
  return makeError("--device must be cpu or cuda, got '" + Device + "'");
}
