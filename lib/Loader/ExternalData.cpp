//===- ExternalData.cpp - safe resolution of external-data paths ----------===//
//
// CVE-2022-25882 and CVE-2024-27318 were onnx reading external data from
// outside the model directory through "../" and symlinks. Here a location must
// be relative, must not climb out, and its real path (symlinks resolved) must
// stay under the model directory's real path.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Loader/Loader.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace gradlint;

llvm::Expected<std::string>
gradlint::resolveExternalPath(llvm::StringRef ModelDir,
                              llvm::StringRef Location) {
  if (Location.empty())
    return makeError("external data location is empty");
  if (Location.find('\0') != llvm::StringRef::npos)
    return makeError("external data location contains a NUL byte");
  if (llvm::sys::path::is_absolute(Location, llvm::sys::path::Style::posix) ||
      llvm::sys::path::is_absolute(Location, llvm::sys::path::Style::windows))
    return makeError("external data location '" + Location +
                     "' is an absolute path; only paths inside the model's "
                     "directory are read");
  // Lexical check: no component may climb above the model directory.
  int Depth = 0;
  for (auto It = llvm::sys::path::begin(Location, llvm::sys::path::Style::posix),
            End = llvm::sys::path::end(Location);
       It != End; ++It) {
    if (*It == "..")
      --Depth;
    else if (*It != "." && *It != "/")
      ++Depth;
    if (Depth < 0)
      return makeError("external data location '" + Location +
                       "' leaves the model's directory");
  }
  llvm::SmallString<256> Dir(ModelDir.empty() ? "." : ModelDir);
  llvm::SmallString<256> RealDir;
  if (std::error_code EC = llvm::sys::fs::real_path(Dir, RealDir))
    return makeError("cannot resolve the model's directory: " + EC.message());
  llvm::SmallString<256> Joined(RealDir);
  llvm::sys::path::append(Joined, Location);
  llvm::SmallString<256> Real;
  if (std::error_code EC = llvm::sys::fs::real_path(Joined, Real))
    return makeError("external data file '" + Location +
                     "' cannot be opened: " + EC.message());
  llvm::StringRef RealRef = Real;
  if (!RealRef.startswith(RealDir) || RealRef.size() <= RealDir.size() ||
      RealRef[RealDir.size()] != '/')
    return makeError("external data location '" + Location +
                     "' resolves outside the model's directory (through a "
                     "symlink)");
  llvm::sys::fs::file_status Status;
  if (std::error_code EC = llvm::sys::fs::status(Real, Status))
    return makeError("external data file '" + Location +
                     "' cannot be opened: " + EC.message());
  if (Status.type() != llvm::sys::fs::file_type::regular_file)
    return makeError("external data location '" + Location +
                     "' is not a regular file");
  return std::string(Real);
}
