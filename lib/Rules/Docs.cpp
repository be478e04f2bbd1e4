//===- Docs.cpp - the rule pages embedded at build time -------------------===//
#include "gradlint/Rules/Registry.h"

using namespace gradlint;

namespace {
struct EmbeddedDoc {
  const char *Stem; ///< "GL103-softmax-saturation"
  const unsigned char *Bytes;
  size_t Size;
};
#include "RuleDocs.inc"
} // namespace

llvm::StringRef gradlint::ruleDoc(const Rule &R) {
  std::string Stem = R.fileStem();
  for (const EmbeddedDoc *D = EmbeddedDocs; D->Stem; ++D)
    if (Stem == D->Stem)
      return llvm::StringRef(reinterpret_cast<const char *>(D->Bytes), D->Size);
  return "";
}

std::string gradlint::ruleDescription(const Rule &R) {
  // The first paragraph after the "# GL103 ..." title, joined into one line.
  llvm::StringRef Doc = ruleDoc(R);
  std::string Out;
  bool InTitle = true;
  while (!Doc.empty()) {
    auto [Line, Rest] = Doc.split('\n');
    Doc = Rest;
    Line = Line.trim();
    if (InTitle) {
      if (Line.startswith("#") || Line.empty())
        continue;
      InTitle = false;
    }
    if (Line.empty() || Line.startswith("#"))
      break;
    if (!Out.empty())
      Out += ' ';
    Out += Line.str();
  }
  return Out.empty() ? R.Summary.str() : Out;
}
