//===- Rules.cpp - `gradlint explain` and `gradlint rules` ----------------===//
#include "gradlint/Driver/Driver.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace gradlint;

static llvm::Expected<int>
emit(llvm::StringRef OutputPath,
     llvm::function_ref<void(llvm::raw_ostream &)> Fn) {
  std::string Out = OutputPath.empty() ? "-" : OutputPath.str();
  if (llvm::Error E = llvm::writeToOutput(Out, [&](llvm::raw_ostream &OS) {
        Fn(OS);
        return llvm::Error::success();
      }))
    return fileError(Out,
                     "cannot write output: " + llvm::toString(std::move(E)));
  return ExitOk;
}

llvm::Expected<int> gradlint::runExplain(llvm::StringRef Name,
                                         llvm::StringRef OutputPath) {
  const Rule *R = findRule(Name);
  if (!R)
    return makeError("no rule named '" + Name +
                     "'; 'gradlint rules' lists them");
  llvm::StringRef Doc = ruleDoc(*R);
  if (Doc.empty())
    return makeError(R->Code + " has no documentation page docs/rules/" +
                     R->fileStem() + ".md in this build");
  return emit(OutputPath, [&](llvm::raw_ostream &OS) {
    OS << Doc;
    if (!Doc.endswith("\n"))
      OS << "\n";
  });
}

llvm::Expected<int> gradlint::runListRules(llvm::StringRef Format,
                                           llvm::StringRef OutputPath) {
  if (Format != "text" && Format != "json")
    return makeError("--format must be text or json for rules, got '" + Format +
                     "'");
  return emit(OutputPath, [&](llvm::raw_ostream &OS) {
    if (Format == "json") {
      llvm::json::Array List;
      for (const Rule *R : allRules()) {
        llvm::json::Object Options;
        for (const RuleOption &O : R->Options)
          Options[O.Name] =
              llvm::json::Object{{"default", O.Default}, {"help", O.Help}};
        List.push_back(
            llvm::json::Object{{"code", R->Code},
                               {"name", R->Name},
                               {"severity", severityName(R->DefaultSeverity)},
                               {"summary", R->Summary},
                               {"options", std::move(Options)}});
      }
      OS << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                       {"schema", "gradlint.rules/1"},
                                       {"rules", std::move(List)}}))
         << "\n";
      return;
    }
    size_t NameWidth = 4;
    for (const Rule *R : allRules())
      NameWidth = std::max(NameWidth, R->Name.size());
    OS << "code   " << llvm::left_justify("name", NameWidth)
       << "  severity  summary\n";
    for (const Rule *R : allRules())
      OS << R->Code << "  " << llvm::left_justify(R->Name, NameWidth) << "  "
         << llvm::left_justify(severityName(R->DefaultSeverity), 8) << "  "
         << R->Summary << "\n";
  });
}
