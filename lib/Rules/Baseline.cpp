//===- Baseline.cpp - record findings, report only new ones --------------===//
#include "gradlint/Rules/Engine.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>

using namespace gradlint;

llvm::Expected<Baseline> gradlint::readBaseline(llvm::StringRef Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/true);
  if (!Buf)
    return fileError(Path, "cannot read baseline: " + Buf.getError().message());
  auto J = llvm::json::parse((*Buf)->getBuffer());
  if (!J)
    return fileError(Path,
                     "baseline is not JSON: " + llvm::toString(J.takeError()));
  const llvm::json::Object *O = J->getAsObject();
  if (!O || O->getString("schema") !=
                llvm::Optional<llvm::StringRef>("gradlint.baseline/1"))
    return fileError(Path,
                     "not a gradlint baseline (schema gradlint.baseline/1)");
  const llvm::json::Array *List = O->getArray("findings");
  if (!List)
    return fileError(Path, "baseline has no 'findings' array");
  Baseline B;
  for (const llvm::json::Value &V : *List) {
    const llvm::json::Object *F = V.getAsObject();
    auto FP = F ? F->getString("fingerprint") : llvm::None;
    if (!FP)
      return fileError(Path, "a baseline entry has no 'fingerprint'");
    ++B.Counts[FP->str()];
  }
  return B;
}

llvm::Error gradlint::writeBaseline(llvm::StringRef Path,
                                    llvm::StringRef ModelPath,
                                    llvm::ArrayRef<Finding> Findings) {
  std::vector<const Finding *> Sorted;
  for (const Finding &F : Findings)
    Sorted.push_back(&F);
  std::stable_sort(
      Sorted.begin(), Sorted.end(),
      [](const Finding *A, const Finding *B) { return findingLess(*A, *B); });
  llvm::json::Array List;
  for (const Finding *F : Sorted) {
    llvm::json::Object E{{"fingerprint", F->fingerprint()},
                         {"rule", F->Code},
                         {"name", F->Name},
                         {"message", F->Message}};
    if (F->Block >= 0)
      E["block"] = F->Block;
    if (!F->Node.empty())
      E["node"] = F->Node;
    if (!F->Parameter.empty())
      E["parameter"] = F->Parameter;
    List.push_back(std::move(E));
  }
  llvm::json::Object Root{{"schema", "gradlint.baseline/1"},
                          {"model", ModelPath},
                          {"findings", std::move(List)}};
  std::error_code EC;
  llvm::raw_fd_ostream OS(Path, EC, llvm::sys::fs::OF_None);
  if (EC)
    return fileError(Path, "cannot write baseline: " + EC.message());
  OS << llvm::formatv("{0:2}", llvm::json::Value(std::move(Root))) << "\n";
  OS.close();
  if (OS.has_error()) {
    std::error_code Err = OS.error();
    OS.clear_error();
    return fileError(Path, "cannot write baseline: " + Err.message());
  }
  return llvm::Error::success();
}

unsigned gradlint::applyBaseline(const Baseline &B,
                                 std::vector<Finding> &Findings) {
  std::map<std::string, unsigned> Left = B.Counts;
  unsigned Removed = 0;
  std::vector<Finding> Kept;
  for (Finding &F : Findings) {
    auto It = Left.find(F.fingerprint());
    if (It != Left.end() && It->second > 0) {
      --It->second;
      ++Removed;
      continue;
    }
    Kept.push_back(std::move(F));
  }
  Findings = std::move(Kept);
  return Removed;
}
