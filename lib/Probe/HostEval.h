//===- HostEval.h - integer ops on the host (private) -----------*- C++ -*-===//
#ifndef GRADLINT_LIB_PROBE_HOSTEVAL_H
#define GRADLINT_LIB_PROBE_HOSTEVAL_H

#include "OpContext.h"

namespace gradlint::probe {

/// Evaluates an integer-valued node exactly: the shape folder's foldNode,
/// then the ops it leaves out. Empty when neither can.
std::vector<HostPtr> evalOnHost(const Graph &G, const Node &N,
                                llvm::ArrayRef<HostPtr> In);

} // namespace gradlint::probe

#endif
