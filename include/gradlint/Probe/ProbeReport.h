//===- ProbeReport.h - probe results as text and JSON -----------*- C++ -*-===//
#ifndef GRADLINT_PROBE_PROBEREPORT_H
#define GRADLINT_PROBE_PROBEREPORT_H

#include "gradlint/Probe/Probe.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace gradlint {

/// Schema "gradlint.probe/1" (DESIGN §6, docs/probe.md). Arrays are sorted
/// by name; the same model and seed give byte-identical output.
llvm::json::Value probeJson(const Model &M, const ProbeResult &R,
                            const ProbeOptions &O);

/// A table: parameter, shape, gradient norm; the loss; steps; memory.
void printProbeText(llvm::raw_ostream &OS, const Model &M, const ProbeResult &R,
                    const ProbeOptions &O);

} // namespace gradlint

#endif
