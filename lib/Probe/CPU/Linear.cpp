//===- Linear.cpp - matrix products through OpenBLAS ----------------------===//
//
// MatMul and Gemm lower to GemmDesc; their gradients are GemmDescs too (the
// executor transposes the flags), so one kernel serves forward and backward.
//
//===----------------------------------------------------------------------===//
#include "CPUBackend.h"
#include <cblas.h>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

void CPUBackend::gemm(const GemmDesc &D, FPtr AP, FPtr BP, FPtr CP) {
  const float *A = at(AP), *B = at(BP);
  float *C = at(CP);
  if (D.M == 0 || D.N == 0)
    return;
  for (int64_t I = 0; I < D.Batch; ++I) {
    float *CI = C + I * D.StrideC;
    if (D.K == 0) {
      for (int64_t R = 0; R < D.M; ++R)
        for (int64_t J = 0; J < D.N; ++J)
          CI[R * D.Ldc + J] = D.Beta == 0 ? 0.0f : D.Beta * CI[R * D.Ldc + J];
      continue;
    }
    cblas_sgemm(CblasRowMajor, D.TransA ? CblasTrans : CblasNoTrans,
                D.TransB ? CblasTrans : CblasNoTrans, static_cast<int>(D.M),
                static_cast<int>(D.N), static_cast<int>(D.K), D.Alpha,
                A + I * D.StrideA, static_cast<int>(D.Lda), B + I * D.StrideB,
                static_cast<int>(D.Ldb), D.Beta, CI, static_cast<int>(D.Ldc));
  }
}
