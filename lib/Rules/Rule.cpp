//===- Rule.cpp - severities, precisions, fingerprints --------------------===//
#include "gradlint/Rules/Rule.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/xxhash.h"
#include <cassert>

using namespace gradlint;

llvm::StringRef gradlint::severityName(Severity S) {
  switch (S) {
  case Severity::Note: return "note";
  case Severity::Warning: return "warning";
  case Severity::Error: return "error";
  }
  return "warning";
}

llvm::Optional<Severity> gradlint::parseSeverity(llvm::StringRef S) {
  if (S == "note")
    return Severity::Note;
  if (S == "warning")
    return Severity::Warning;
  if (S == "error")
    return Severity::Error;
  return llvm::None;
}

llvm::StringRef gradlint::precisionName(PrecisionKind P) {
  switch (P) {
  case PrecisionKind::FP32: return "fp32";
  case PrecisionKind::FP16: return "fp16";
  case PrecisionKind::BF16: return "bf16";
  }
  return "fp32";
}

llvm::Optional<PrecisionKind> gradlint::parsePrecision(llvm::StringRef S) {
  if (S == "fp32")
    return PrecisionKind::FP32;
  if (S == "fp16")
    return PrecisionKind::FP16;
  if (S == "bf16")
    return PrecisionKind::BF16;
  return llvm::None;
}

std::string Finding::fingerprint() const {
  // The message is left out on purpose: its numbers move with the weights.
  std::string Key =
      (Code + "\x1f" + llvm::Twine(Block) + "\x1f" + Node + "\x1f" + Parameter)
          .str();
  std::string Out;
  llvm::raw_string_ostream OS(Out);
  OS << llvm::format_hex_no_prefix(llvm::xxHash64(Key), 16);
  return OS.str();
}

double RuleOptions::get(llvm::StringRef Name) const {
  for (const RuleOption &O : Declared) {
    if (O.Name != Name)
      continue;
    if (Overrides)
      if (auto It = Overrides->find(Name.str()); It != Overrides->end())
        return It->second;
    return O.Default;
  }
  assert(false && "rule reads an option it does not declare");
  return 0;
}
