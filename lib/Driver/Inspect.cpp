//===- Inspect.cpp - `gradlint inspect` -----------------------------------===//
#include "gradlint/Driver/Driver.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Report/Inspect.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/FileSystem.h"

using namespace gradlint;

llvm::Expected<std::unique_ptr<llvm::raw_ostream>>
gradlint::openOutput(llvm::StringRef Path) {
  if (Path.empty() || Path == "-")
    return std::make_unique<llvm::raw_fd_ostream>(1, /*shouldClose=*/false);
  std::error_code EC;
  auto OS = std::make_unique<llvm::raw_fd_ostream>(Path, EC,
                                                   llvm::sys::fs::OF_None);
  if (EC)
    return fileError(Path, "cannot write output: " + EC.message());
  return OS;
}

llvm::Expected<int> gradlint::runInspect(const ModelOptions &Opts) {
  if (Opts.Format != "text" && Opts.Format != "json")
    return makeError("--format must be text or json for inspect, got '" +
                     Opts.Format + "'");
  DimBindings Dims;
  for (const std::string &D : Opts.Dims)
    if (llvm::Error E = parseDimBinding(D, Dims))
      return E;
  auto M = loadModel(Opts.ModelPath);
  if (!M)
    return M.takeError();
  auto Shapes = inferShapes(**M, Dims);
  if (!Shapes)
    return Shapes.takeError();
  ModelStructure Structure = recoverStructure(**M);
  auto OS = openOutput(Opts.OutputPath);
  if (!OS)
    return OS.takeError();
  if (Opts.Format == "json")
    **OS << llvm::formatv("{0:2}", llvm::json::Value(
                                       inspectJson(**M, *Shapes, &Structure)))
         << "\n";
  else
    printInspectText(**OS, **M, *Shapes, &Structure);
  return ExitOk;
}
