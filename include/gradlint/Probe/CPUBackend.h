//===- CPUBackend.h - the always-built reference backend --------*- C++ -*-===//
#ifndef GRADLINT_PROBE_CPUBACKEND_H
#define GRADLINT_PROBE_CPUBACKEND_H

#include "gradlint/Probe/Backend.h"
#include <memory>

namespace gradlint::probe {

/// Float32 kernels on the host: OpenBLAS sgemm and a thread pool, both with
/// Threads threads. Results do not depend on Threads except through OpenBLAS.
std::unique_ptr<Backend> createCPUBackend(unsigned Threads = 2);

} // namespace gradlint::probe

#endif
