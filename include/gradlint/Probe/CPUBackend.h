//===- CPUBackend.h - the always-built reference backend --------*- C++ -*-===//
#ifndef GRADLINT_PROBE_CPUBACKEND_H
#define GRADLINT_PROBE_CPUBACKEND_H

#include "gradlint/Probe/Backend.h"
#include <cstdint>
#include <memory>

namespace gradlint::probe {

/// Float32 kernels on the host: OpenBLAS sgemm and a thread pool, both with
/// Threads threads. Results do not depend on Threads except through OpenBLAS.
/// Allocations past MemoryBudget bytes (0: 80 % of physical memory) are an
/// error: Linux overcommits, and the OOM killer would end the process.
std::unique_ptr<Backend> createCPUBackend(unsigned Threads = 2, uint64_t MemoryBudget = 0);

/// The machine's physical memory in bytes.
uint64_t physicalMemory();

} // namespace gradlint::probe

#endif
