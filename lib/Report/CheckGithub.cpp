//===- CheckGithub.cpp - GitHub Actions workflow annotations --------------===//
//
// One `::error|warning|notice file=PATH,line=1,title=CODE name::message`
// line per finding; remedies follow the message on their own lines (%0A).
// Escaping as the workflow-command parser expects: %, CR and LF in the
// message; also ':' and ',' in property values.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Report/Check.h"

using namespace gradlint;

static std::string escapeData(llvm::StringRef S) {
  std::string Out;
  for (char C : S) {
    switch (C) {
    case '%': Out += "%25"; break;
    case '\r': Out += "%0D"; break;
    case '\n': Out += "%0A"; break;
    default: Out += C;
    }
  }
  return Out;
}

static std::string escapeProperty(llvm::StringRef S) {
  std::string Out;
  for (char C : escapeData(S)) {
    if (C == ':')
      Out += "%3A";
    else if (C == ',')
      Out += "%2C";
    else
      Out += C;
  }
  return Out;
}

void gradlint::printCheckGithub(llvm::raw_ostream &OS, const CheckReport &R) {
  for (const Finding &F : R.Findings) {
    const char *Command = F.Level == Severity::Error     ? "error"
                          : F.Level == Severity::Warning ? "warning"
                                                         : "notice";
    std::string Message = F.Message;
    if (F.Block >= 0 || !F.Node.empty()) {
      Message += " (";
      if (F.Block >= 0)
        Message +=
            "block " + std::to_string(F.Block) + (F.Node.empty() ? "" : ", ");
      if (!F.Node.empty())
        Message += "node " + F.Node;
      Message += ")";
    }
    for (const std::string &Remedy : F.Remedies)
      Message += "\nnote: " + Remedy;
    OS << "::" << Command << " file=" << escapeProperty(R.ArtifactUri)
       << ",line=1,title=" << escapeProperty((F.Code + " " + F.Name).str())
       << "::" << escapeData(Message) << "\n";
  }
}
