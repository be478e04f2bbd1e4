//===- Registry.cpp - the one list of rules -------------------------------===//
//
// Adding a rule: write lib/Rules/<Code>-<name>.cpp defining `const Rule
// <Code>`, add one line here, docs/rules/<Code>-<name>.md and
// test/Rules/<Code>-<name>.cpp. Codes are stable once released.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Rules/Registry.h"
#include "RuleSupport.h"

using namespace gradlint;

static const Rule *const AllRules[] = {
    &rules::GL101, // vanishing-gradient
    &rules::GL102, // unscaled-attention-logits
    &rules::GL103, // softmax-saturation
    &rules::GL104, // exploding-gradient
    &rules::GL105, // low-precision-underflow
    &rules::GL106, // missing-residual
    &rules::GL107, // missing-normalization
    &rules::GL108, // deep-post-norm
    &rules::GL109, // saturating-activation
    &rules::GL110, // dead-relu
    &rules::GL111, // init-scale
    &rules::GL112, // layernorm-epsilon
    &rules::GL113, // analysis-coverage
};

llvm::ArrayRef<const Rule *> gradlint::allRules() { return AllRules; }

const Rule *gradlint::findRule(llvm::StringRef CodeOrName) {
  for (const Rule *R : AllRules)
    if (R->Code.equals_insensitive(CodeOrName) || R->Name == CodeOrName)
      return R;
  return nullptr;
}
