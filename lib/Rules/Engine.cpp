//===- Engine.cpp - run the rules, apply the config and baselines ---------===//
#include "gradlint/Rules/Engine.h"
#include <algorithm>
#include <tuple>

using namespace gradlint;

bool gradlint::findingLess(const Finding &A, const Finding &B) {
  return std::tie(A.Block, A.Code, A.Parameter, A.Node, A.Message) <
         std::tie(B.Block, B.Code, B.Parameter, B.Node, B.Message);
}

RuleResults gradlint::runRules(const Model &M, const AnalysisResult &A,
                               const ModelStructure &S,
                               const RuleRunOptions &Opts) {
  RuleResults Out;
  for (const Rule *R : Opts.Enabled) {
    const RuleSettings *Settings = nullptr;
    if (Opts.Config)
      if (auto It = Opts.Config->Rules.find(R); It != Opts.Config->Rules.end())
        Settings = &It->second;
    if (Settings && Settings->Off)
      continue;
    RuleContext C{
        M, A, S, Opts.Precision,
        RuleOptions(R->Options, Settings ? &Settings->Options : nullptr)};
    for (Finding &F : R->Check(C)) {
      F.Code = R->Code;
      F.Name = R->Name;
      if (Settings && Settings->Level)
        F.Level = *Settings->Level;
      if (Opts.Config &&
          llvm::any_of(Opts.Config->Suppressions, [&](const Suppression &Sup) {
            return isSuppressed(Sup, F);
          })) {
        ++Out.Suppressed;
        continue;
      }
      Out.Findings.push_back(std::move(F));
    }
  }
  std::stable_sort(Out.Findings.begin(), Out.Findings.end(), findingLess);
  return Out;
}
