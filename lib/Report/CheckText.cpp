//===- CheckText.cpp - `gradlint check` for people ------------------------===//
#include "gradlint/Report/Check.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/WithColor.h"
#include <algorithm>
#include <cmath>

using namespace gradlint;

static std::string sci(double V) {
  if (std::isinf(V))
    return "inf";
  char Buf[32];
  snprintf(Buf, sizeof Buf, "%.2e", V);
  return Buf;
}

namespace {
struct Row {
  std::string Kind, Name;
  Bound B;
};
} // namespace

static std::string blockHeading(const BlockInfo &B, bool Residual) {
  std::string H = "block " + std::to_string(B.Index) + " (";
  H += B.Norm == NormPlacement::None
           ? "no norm"
           : normPlacementName(B.Norm).str() + "-norm";
  if (B.Attention) {
    H += ", attention";
    if (B.Attention->Heads > 0)
      H += " " + std::to_string(B.Attention->Heads) + " heads";
    if (B.Attention->HeadDim > 0)
      H += " x " + std::to_string(B.Attention->HeadDim);
  }
  if (B.Ffn && !B.Ffn->Activation.empty())
    H += ", " + B.Ffn->Activation;
  if (!Residual)
    H += ", no residual";
  return H + ")";
}

static void printRows(llvm::raw_ostream &OS, const std::vector<Row> &Rows,
                      size_t KindWidth, size_t NameWidth) {
  for (const Row &R : Rows) {
    OS << "    " << llvm::left_justify(printable(R.Kind), KindWidth) << "  "
       << llvm::left_justify(printable(R.Name), NameWidth) << "  "
       << llvm::right_justify(sci(R.B.Est), 9) << "  [" << sci(R.B.Lo) << ", "
       << sci(R.B.Hi) << "]\n";
  }
}

static void printTable(llvm::raw_ostream &OS, const CheckReport &R) {
  const ModelStructure &S = R.S;
  std::vector<std::vector<Row>> ByBlock(S.Blocks.size());
  std::vector<Row> Other;
  for (const ParameterPrediction &P : R.A.Parameters) {
    ModelStructure::Role Role = S.roleOf(R.M, P.Name);
    Row Rw{Role.Kind.empty() ? "-" : Role.Kind, P.Name, P.GradNorm};
    if (Role.Block >= 0 && size_t(Role.Block) < S.Blocks.size())
      ByBlock[Role.Block].push_back(std::move(Rw));
    else
      Other.push_back(std::move(Rw));
  }
  auto ByKind = [](const Row &A, const Row &B) {
    return std::tie(A.Kind, A.Name) < std::tie(B.Kind, B.Name);
  };
  for (const BlockInfo &B : S.Blocks) {
    std::vector<Row> &Rows = ByBlock[B.Index];
    std::stable_sort(Rows.begin(), Rows.end(), ByKind);
    auto Stream = [&](ValueId V, const char *What) {
      if (V != NoId && V < R.A.Backward.size() && R.A.Backward[V].Reached)
        Rows.push_back({"stream", What, R.A.Backward[V].Norm});
    };
    ValueId In = NoId, Out = NoId;
    if (!B.Residuals.empty()) {
      In = B.Residuals.front().Skip;
      Out = B.Residuals.back().Output;
      if (B.Norm == NormPlacement::Post && !B.Norms.empty())
        Out = B.Norms.back().Output;
    }
    Stream(In, "(block input)");
    Stream(Out, "(block output)");
  }
  std::stable_sort(Other.begin(), Other.end(), ByKind);
  size_t KindWidth = 6, NameWidth = 14;
  for (const auto &Rows : ByBlock)
    for (const Row &Rw : Rows) {
      KindWidth = std::max(KindWidth, Rw.Kind.size());
      NameWidth = std::max(NameWidth, Rw.Name.size());
    }
  for (const Row &Rw : Other) {
    KindWidth = std::max(KindWidth, Rw.Kind.size());
    NameWidth = std::max(NameWidth, Rw.Name.size());
  }
  OS << "\n"
     << printable(R.DisplayPath) << ": predicted gradient norms for the "
     << lossName(R.A.Setup.Loss) << " loss, est [lo, hi]";
  if (R.A.CalibrationPasses)
    OS << ", calibrated by " << R.A.CalibrationPasses << " forward passes ("
       << R.A.CalibratedValues << " values, " << R.A.CalibratedSoftmax
       << " softmax)";
  OS << ":\n";
  for (const BlockInfo &B : S.Blocks) {
    OS << "  " << blockHeading(B, !B.Residuals.empty()) << "\n";
    printRows(OS, ByBlock[B.Index], KindWidth, NameWidth);
  }
  if (!Other.empty()) {
    OS << "  " << (S.Blocks.empty() ? "parameters" : "outside blocks") << "\n";
    printRows(OS, Other, KindWidth, NameWidth);
  }
}

static std::string plural(unsigned N, const char *One, const char *Many) {
  return std::to_string(N) + " " + (N == 1 ? One : Many);
}

void gradlint::printCheckText(llvm::raw_ostream &OS, const CheckReport &R) {
  std::string Path = printable(R.DisplayPath);
  unsigned Counts[3] = {0, 0, 0};
  for (const Finding &F : R.Findings) {
    ++Counts[static_cast<unsigned>(F.Level)];
    switch (F.Level) {
    case Severity::Error: llvm::WithColor::error(OS, Path); break;
    case Severity::Warning: llvm::WithColor::warning(OS, Path); break;
    case Severity::Note: llvm::WithColor::note(OS, Path); break;
    }
    OS << printable(F.Message) << " [" << F.Code << "]\n";
    for (const std::string &Remedy : F.Remedies)
      llvm::WithColor::note(OS, Path) << printable(Remedy) << "\n";
  }
  printTable(OS, R);
  OS << "\n" << Path << ": ";
  if (R.Findings.empty())
    OS << "no findings";
  else
    OS << plural(Counts[2], "error", "errors") << ", "
       << plural(Counts[1], "warning", "warnings") << ", "
       << plural(Counts[0], "note", "notes");
  if (R.Suppressed)
    OS << "; " << R.Suppressed << " suppressed by " << printable(R.ConfigPath);
  if (R.Baselined)
    OS << "; " << R.Baselined << " in the baseline";
  OS << "\n";
}
