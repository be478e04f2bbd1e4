//===- Linear.cu - matrix products through cuBLAS -------------------------===//
//
// MatMul and Gemm lower to GemmDesc (forward and gradients alike). cuBLAS is
// column-major: a row-major C = op(A) op(B) is the column-major
// C^T = op(B)^T op(A)^T, so the operands swap. Batches use the strided-batched
// call (attention's [B, H, T, T] products); a zero stride reuses one matrix.
// The math mode (CUDABackend.cu) keeps float32 products in float32 unless
// GRADLINT_CUDA_TF32=1.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"
#include <climits>
#include <cublas_v2.h>

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

/// K == 0: C = Beta * C (0 where Beta is 0, as the CPU backend).
__global__ void scaleMatrix(float *C, int64_t Batch, int64_t StrideC, int64_t M,
                            int64_t N, int64_t Ldc, float Beta) {
  GL_GRID_LOOP(I, Batch * M * N) {
    int64_t B = I / (M * N), R = I / N % M, J = I % N;
    float *P = C + B * StrideC + R * Ldc + J;
    *P = Beta == 0 ? 0.0f : Beta * *P;
  }
}

bool fitsInt(int64_t V) { return V >= 0 && V <= INT_MAX; }

} // namespace

void CUDABackend::gemm(const GemmDesc &D, FPtr AP, FPtr BP, FPtr CP) {
  if (D.M == 0 || D.N == 0 || D.Batch == 0 || !ok())
    return;
  float *C = at(CP);
  if (D.K == 0) {
    launch(*this, "gemm (k = 0)", scaleMatrix, dim3(gridFor(D.Batch * D.M * D.N)),
           dim3(BlockThreads), 0, C, D.Batch, D.StrideC, D.M, D.N, D.Ldc, D.Beta);
    return;
  }
  if (!fitsInt(D.M) || !fitsInt(D.N) || !fitsInt(D.K) || !fitsInt(D.Lda) ||
      !fitsInt(D.Ldb) || !fitsInt(D.Ldc) || !fitsInt(D.Batch)) {
    fail("a matrix product of " + std::to_string(D.M) + "x" +
         std::to_string(D.K) + " by " + std::to_string(D.K) + "x" +
         std::to_string(D.N) + " exceeds cuBLAS's 32-bit dimensions");
    return;
  }
  cublasHandle_t H = blas();
  cublasOperation_t OpA = D.TransA ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t OpB = D.TransB ? CUBLAS_OP_T : CUBLAS_OP_N;
  const float *A = at(AP), *B = at(BP);
  int M = static_cast<int>(D.M), N = static_cast<int>(D.N),
      K = static_cast<int>(D.K);
  int Lda = static_cast<int>(D.Lda), Ldb = static_cast<int>(D.Ldb),
      Ldc = static_cast<int>(D.Ldc);
  if (D.Batch == 1) {
    checkBlas(cublasSgemm(H, OpB, OpA, N, M, K, &D.Alpha, B, Ldb, A, Lda,
                          &D.Beta, C, Ldc),
              "cublasSgemm");
    return;
  }
  checkBlas(cublasSgemmStridedBatched(H, OpB, OpA, N, M, K, &D.Alpha, B, Ldb,
                                      D.StrideB, A, Lda, D.StrideA, &D.Beta, C,
                                      Ldc, D.StrideC,
                                      static_cast<int>(D.Batch)),
            "cublasSgemmStridedBatched");
}
