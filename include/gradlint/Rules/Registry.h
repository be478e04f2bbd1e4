//===- Registry.h - the rule catalog ----------------------------*- C++ -*-===//
#ifndef GRADLINT_RULES_REGISTRY_H
#define GRADLINT_RULES_REGISTRY_H

#include "gradlint/Rules/Rule.h"

namespace gradlint {

/// Every rule, in code order (the one explicit list in Registry.cpp).
llvm::ArrayRef<const Rule *> allRules();

/// Looks a rule up by code ("GL103", any case) or name ("softmax-saturation").
const Rule *findRule(llvm::StringRef CodeOrName);

/// The rule's documentation page, docs/rules/<Code>-<Name>.md, as embedded in
/// the binary at build time; empty when the page is missing.
llvm::StringRef ruleDoc(const Rule &R);

/// The first paragraph of the doc page after its title: the long description.
std::string ruleDescription(const Rule &R);

} // namespace gradlint

#endif
