//===- CPUBackend.cpp - memory, threads and the factory -------------------===//
#include "CPUBackend.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/ThreadPool.h"
#include <cblas.h>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

Parallel::Parallel(unsigned Threads) : Threads(std::max(1u, Threads)) {
  if (this->Threads > 1)
    Pool = std::make_unique<llvm::ThreadPool>(
        llvm::hardware_concurrency(this->Threads - 1));
}

Parallel::~Parallel() = default;

void Parallel::forRange(int64_t N, int64_t Grain,
                        llvm::function_ref<void(int64_t, int64_t)> Fn) {
  if (N <= 0)
    return;
  int64_t Parts = std::min<int64_t>(Threads, N / std::max<int64_t>(Grain, 1));
  if (Parts <= 1 || !Pool) {
    Fn(0, N);
    return;
  }
  int64_t Step = (N + Parts - 1) / Parts;
  for (int64_t P = 1; P < Parts; ++P) {
    int64_t B = P * Step, E = std::min(N, B + Step);
    if (B < E)
      Pool->async([=] { Fn(B, E); });
  }
  Fn(0, std::min(N, Step));
  Pool->wait();
}

// Linux overcommits: an allocation beyond the machine's memory succeeds and
// the OOM killer ends the process when the pages are touched. The budget
// turns that into an error naming the sizes.
CPUBackend::CPUBackend(unsigned Threads, uint64_t MemoryBudget)
    : Par(Threads),
      Budget(MemoryBudget ? MemoryBudget : physicalMemory() / 5 * 4) {
  openblas_set_num_threads(static_cast<int>(Par.threads()));
}

CPUBackend::~CPUBackend() {
  for (auto &[Size, P] : Cache)
    std::free(P);
}

llvm::Expected<DeviceBuffer> CPUBackend::allocate(uint64_t Bytes) {
  uint64_t Size = std::max<uint64_t>(64, (Bytes + 63) & ~uint64_t(63));
  std::lock_guard<std::mutex> L(CacheLock);
  auto It = Cache.lower_bound(Size);
  // Reuse a freed block of about the same size: layers repeat shapes.
  if (It != Cache.end() && It->first <= Size + Size / 4) {
    DeviceBuffer B{It->second, It->first};
    Cache.erase(It);
    return B;
  }
  if (Held + Size > Budget) { // what is cached goes back first
    for (auto &[CachedSize, Block] : Cache) {
      std::free(Block);
      Held -= CachedSize;
    }
    Cache.clear();
  }
  if (Held + Size > Budget)
    return makeError("cpu backend: the probe needs more memory than its budget of " +
                     llvm::Twine(Budget >> 20) + " MiB: " + llvm::Twine(Held >> 20) +
                     " MiB held, " + llvm::Twine(Size >> 20) +
                     " MiB more asked; smaller --dim values need less");
  void *P = std::aligned_alloc(64, Size);
  if (!P)
    return makeError("cpu backend: out of memory allocating " +
                     llvm::Twine(Size) + " bytes");
  Held += Size;
  return DeviceBuffer{P, Size};
}

void CPUBackend::release(DeviceBuffer B) {
  if (!B.Base)
    return;
  std::lock_guard<std::mutex> L(CacheLock);
  Cache.emplace(B.Bytes, B.Base);
}

void CPUBackend::upload(void *DstBase, uint64_t DstByteOffset, const void *Src,
                        uint64_t Bytes) {
  if (Bytes)
    std::memcpy(static_cast<char *>(DstBase) + DstByteOffset, Src, Bytes);
}

void CPUBackend::download(void *Dst, const void *SrcBase,
                          uint64_t SrcByteOffset, uint64_t Bytes) {
  if (Bytes)
    std::memcpy(Dst, static_cast<const char *>(SrcBase) + SrcByteOffset, Bytes);
}

void CPUBackend::fill(FPtr Dst, int64_t N, float Value) {
  float *D = at(Dst);
  Par.forRange(N, 1 << 16, [&](int64_t B, int64_t E) {
    std::fill(D + B, D + E, Value);
  });
}

double CPUBackend::blockSum(int64_t N,
                            llvm::function_ref<double(int64_t, int64_t)> F) {
  int64_t Blocks = (N + ReduceBlock - 1) / ReduceBlock;
  std::vector<double> Partial(Blocks, 0.0);
  Par.forRange(Blocks, 4, [&](int64_t B, int64_t E) {
    for (int64_t I = B; I < E; ++I)
      Partial[I] = F(I * ReduceBlock, std::min(N, (I + 1) * ReduceBlock));
  });
  double Sum = 0;
  for (double P : Partial)
    Sum += P;
  return Sum;
}

std::unique_ptr<Backend> gradlint::probe::createCPUBackend(unsigned Threads,
                                                          uint64_t MemoryBudget) {
  return std::make_unique<CPUBackend>(Threads, MemoryBudget);
}

uint64_t gradlint::probe::physicalMemory() {
  return uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGE_SIZE));
}
