//===- CUDABackend.cu - device start, memory, stream and errors -----------===//
//
// One device, one non-blocking stream, cuBLAS bound to it. Memory comes from
// the stream-ordered allocator (cudaMallocAsync) with its pool kept, so
// release/allocate in a training step cost no synchronization. Uploads go
// through a pinned staging ring and stay asynchronous.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"
#include <cublas_v2.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <unistd.h>

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

constexpr uint64_t StagingBytes = 8u << 20;

std::string gib(uint64_t Bytes) {
  char Buf[32];
  std::snprintf(Buf, sizeof(Buf), "%.2f GiB", Bytes / 1073741824.0);
  return Buf;
}

std::string cudaMessage(cudaError_t E) {
  return std::string(cudaGetErrorString(E)) + " (" + cudaGetErrorName(E) + ")";
}

__global__ void fillKernel(float *D, int64_t N, float V) {
  GL_GRID_LOOP(I, N) D[I] = V;
}

} // namespace

//===--- Start ------------------------------------------------------------===//

CUDABackend *CUDABackend::start(std::string &Why) {
  // The runtime is linked statically and loads the driver itself; looking
  // for it first tells "no driver" from "no device".
  if (!dlopen("libcuda.so.1", RTLD_LAZY | RTLD_GLOBAL)) {
    const char *E = dlerror();
    Why = std::string("no NVIDIA driver: libcuda.so.1 cannot be loaded (") +
          (E ? E : "not found") + ")";
    return nullptr;
  }
  int Driver = 0;
  cudaError_t E = cudaDriverGetVersion(&Driver);
  if (E != cudaSuccess) {
    Why = "the NVIDIA driver cannot start: " + cudaMessage(E);
    return nullptr;
  }
  if (Driver > 0 && Driver < CUDART_VERSION) {
    char Buf[160];
    std::snprintf(Buf, sizeof(Buf),
                  "the NVIDIA driver supports CUDA %d.%d but the plugin was "
                  "built with CUDA %d.%d; update the driver",
                  Driver / 1000, Driver % 1000 / 10, CUDART_VERSION / 1000,
                  CUDART_VERSION % 1000 / 10);
    Why = Buf;
    return nullptr;
  }
  int Count = 0;
  E = cudaGetDeviceCount(&Count);
  if (E == cudaErrorNoDevice || (E == cudaSuccess && Count == 0)) {
    const char *Visible = std::getenv("CUDA_VISIBLE_DEVICES");
    Why = "no CUDA device: the NVIDIA driver is installed but sees no GPU";
    if (Visible)
      Why += std::string(" (CUDA_VISIBLE_DEVICES=") + Visible + ")";
    return nullptr;
  }
  if (E != cudaSuccess) {
    Why = "CUDA cannot start: " + cudaMessage(E);
    return nullptr;
  }
  cudaDeviceProp Prop;
  if ((E = cudaSetDevice(0)) != cudaSuccess ||
      (E = cudaGetDeviceProperties(&Prop, 0)) != cudaSuccess) {
    Why = "CUDA cannot start device 0: " + cudaMessage(E);
    return nullptr;
  }
  // The plugin carries code for sm_80 and sm_90 (and PTX for later ones).
  cudaFuncAttributes Attr;
  if (cudaFuncGetAttributes(&Attr, fillKernel) != cudaSuccess) {
    cudaGetLastError();
    char Buf[200];
    std::snprintf(Buf, sizeof(Buf),
                  "%s is sm_%d%d; this plugin was built for sm_80 and sm_90 "
                  "(set CMAKE_CUDA_ARCHITECTURES and rebuild)",
                  Prop.name, Prop.major, Prop.minor);
    Why = Buf;
    return nullptr;
  }

  CUDABackend *B = new CUDABackend();
  B->DeviceName = Prop.name;
  auto Fail = [&](const std::string &Msg) -> CUDABackend * {
    Why = Msg;
    delete B;
    return nullptr;
  };
  if ((E = cudaStreamCreateWithFlags(&B->Stream, cudaStreamNonBlocking)) !=
      cudaSuccess)
    return Fail("CUDA cannot create a stream: " + cudaMessage(E));
  // Keep freed memory in the pool instead of returning it at every sync.
  cudaMemPool_t Pool;
  if (cudaDeviceGetDefaultMemPool(&Pool, 0) == cudaSuccess) {
    uint64_t Keep = UINT64_MAX;
    cudaMemPoolSetAttribute(Pool, cudaMemPoolAttrReleaseThreshold, &Keep);
  }
  if ((E = cudaHostAlloc(reinterpret_cast<void **>(&B->Staging), StagingBytes,
                         cudaHostAllocDefault)) != cudaSuccess)
    return Fail("CUDA cannot allocate pinned host memory: " + cudaMessage(E));
  B->StagingSize = StagingBytes;
  if ((E = cudaHostAlloc(reinterpret_cast<void **>(&B->Results),
                         4 * sizeof(double), cudaHostAllocMapped)) != cudaSuccess)
    return Fail("CUDA cannot allocate pinned host memory: " + cudaMessage(E));
  if ((E = cudaMalloc(reinterpret_cast<void **>(&B->Counter), sizeof(unsigned))) !=
          cudaSuccess ||
      (E = cudaMemset(B->Counter, 0, sizeof(unsigned))) != cudaSuccess)
    return Fail("CUDA cannot allocate device memory: " + cudaMessage(E));
  cublasHandle_t H = nullptr;
  cublasStatus_t S = cublasCreate(&H);
  if (S != CUBLAS_STATUS_SUCCESS)
    return Fail(std::string("cuBLAS cannot start: ") + cublasGetStatusString(S));
  B->Blas = H;
  // Float32 products in float32: TF32 tensor cores only when asked for.
  const char *TF32 = std::getenv("GRADLINT_CUDA_TF32");
  bool AllowTF32 = TF32 && std::strcmp(TF32, "1") == 0;
  if ((S = cublasSetStream(H, B->Stream)) != CUBLAS_STATUS_SUCCESS ||
      (S = cublasSetMathMode(H, AllowTF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                          : CUBLAS_DEFAULT_MATH)) !=
          CUBLAS_STATUS_SUCCESS)
    return Fail(std::string("cuBLAS cannot start: ") + cublasGetStatusString(S));
  return B;
}

CUDABackend::~CUDABackend() {
  if (Stream)
    cudaStreamSynchronize(Stream);
  if (Blas)
    cublasDestroy(Blas);
  if (Staging)
    cudaFreeHost(Staging);
  if (Results)
    cudaFreeHost(Results);
  if (Parts)
    cudaFree(Parts);
  if (Counter)
    cudaFree(Counter);
  if (Stream)
    cudaStreamDestroy(Stream);
}

//===--- Errors -----------------------------------------------------------===//

bool CUDABackend::check(int Code, const char *What) {
  auto E = static_cast<cudaError_t>(Code);
  if (E == cudaSuccess)
    return true;
  if (Failure.empty())
    Failure = std::string(What) + " failed: " + cudaMessage(E);
  return false;
}

bool CUDABackend::checkBlas(int Status, const char *What) {
  auto S = static_cast<cublasStatus_t>(Status);
  if (S == CUBLAS_STATUS_SUCCESS)
    return true;
  if (Failure.empty())
    Failure = S == CUBLAS_STATUS_ALLOC_FAILED
                  ? std::string("out of device memory in cuBLAS (") + What + ")"
                  : std::string(What) + " failed: " + cublasGetStatusString(S);
  return false;
}

void CUDABackend::fail(const std::string &Why) {
  if (Failure.empty())
    Failure = Why;
}

void CUDABackend::die() const {
  std::fflush(stdout);
  std::string Line = "gradlint: error: --device cuda: " + Failure + "\n";
  ssize_t Ignored = ::write(2, Line.data(), Line.size());
  (void)Ignored;
  std::_Exit(2);
}

void CUDABackend::waitOrDie() {
  if (ok())
    check(cudaStreamSynchronize(Stream), "cudaStreamSynchronize");
  if (!ok())
    die();
}

//===--- Memory -----------------------------------------------------------===//

void *CUDABackend::allocateRaw(uint64_t Bytes) {
  if (!ok())
    return nullptr;
  void *P = nullptr;
  uint64_t Size = Bytes < 256 ? 256 : (Bytes + 255) & ~uint64_t(255);
  cudaError_t E = cudaMallocAsync(&P, Size, Stream);
  if (E == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t Free = 0, Total = 0;
    cudaMemGetInfo(&Free, &Total);
    fail("out of device memory: allocating " + gib(Size) + " with " +
         gib(Free) + " free of " + gib(Total) + " on " + DeviceName);
    return nullptr;
  }
  if (!check(E, "cudaMallocAsync"))
    return nullptr;
  return P;
}

void CUDABackend::release(DeviceBuffer B) {
  if (B.Base && ok())
    check(cudaFreeAsync(B.Base, Stream), "cudaFreeAsync");
}

void *CUDABackend::scratch(uint64_t Bytes) { return allocateRaw(Bytes); }

double *CUDABackend::scalarParts(int64_t N) {
  if (N > PartsSize) {
    dropScratch(Parts);
    Parts = static_cast<double *>(allocateRaw(N * sizeof(double)));
    PartsSize = Parts ? N : 0;
  }
  return Parts;
}

void CUDABackend::dropScratch(void *P) {
  if (P && ok())
    check(cudaFreeAsync(P, Stream), "cudaFreeAsync");
}

void CUDABackend::stage(void *Dst, const void *Src, uint64_t Bytes) {
  const char *From = static_cast<const char *>(Src);
  char *To = static_cast<char *>(Dst);
  while (Bytes && ok()) {
    if (StagingUsed == StagingSize) {
      // The ring is full: wait until the copies reading it are done.
      if (!check(cudaStreamSynchronize(Stream), "cudaStreamSynchronize"))
        return;
      StagingUsed = 0;
    }
    uint64_t Part = std::min(Bytes, StagingSize - StagingUsed);
    char *Pinned = Staging + StagingUsed;
    std::memcpy(Pinned, From, Part);
    check(cudaMemcpyAsync(To, Pinned, Part, cudaMemcpyHostToDevice, Stream),
          "cudaMemcpyAsync (upload)");
    StagingUsed = std::min(StagingSize, (StagingUsed + Part + 255) & ~uint64_t(255));
    From += Part;
    To += Part;
    Bytes -= Part;
  }
}

void CUDABackend::upload(void *DstBase, uint64_t DstByteOffset, const void *Src,
                         uint64_t Bytes) {
  stage(static_cast<char *>(DstBase) + DstByteOffset, Src, Bytes);
}

void CUDABackend::download(void *Dst, const void *SrcBase,
                           uint64_t SrcByteOffset, uint64_t Bytes) {
  if (Bytes && ok())
    check(cudaMemcpyAsync(Dst, static_cast<const char *>(SrcBase) + SrcByteOffset,
                          Bytes, cudaMemcpyDeviceToHost, Stream),
          "cudaMemcpyAsync (download)");
  waitOrDie();
}

void CUDABackend::synchronize() { waitOrDie(); }

void CUDABackend::fill(FPtr Dst, int64_t N, float Value) {
  launch(*this, "fill", fillKernel, dim3(gridFor(N)), dim3(BlockThreads), 0,
         at(Dst), N, Value);
}
