//===- Normalization.cu - LayerNorm and RMSNorm, forward and gradient -----===//
//
// Fused, one block per row: statistics in double, then the row is written.
// The gradient recomputes the statistics in double (as the CPU backend, which
// ignores the saved float ones) and writes dx in the same block; the
// parameter gradients are sums over rows, taken per fixed block of 64 rows
// (one thread per column, rows in order) and the blocks added in order:
// the CPU backend's summation order, so the results agree to rounding.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

constexpr int64_t RowBlock = 64;

struct RowStats {
  double Mean, InvStd;
};

__device__ RowStats rowStats(const float *PX, int64_t C, bool RMS,
                             float Epsilon, double *Shm) {
  double M = 0;
  if (!RMS) {
    for (int64_t I = threadIdx.x; I < C; I += BlockThreads)
      M += PX[I];
    M = blockSum(M, Shm) / static_cast<double>(C);
  }
  double Var = 0;
  for (int64_t I = threadIdx.x; I < C; I += BlockThreads) {
    double V = PX[I] - M;
    Var += V * V;
  }
  Var = blockSum(Var, Shm) / static_cast<double>(C);
  return {M, 1.0 / sqrt(Var + Epsilon)};
}

__global__ void normKernel(NormDesc D, const float *X, const float *Gamma,
                           const float *Beta, float *Y, float *Mean,
                           float *Inv) {
  __shared__ double Shm[BlockThreads / 32];
  int64_t R = blockIdx.x, C = D.Cols;
  const float *PX = X + R * C;
  float *PY = Y + R * C;
  RowStats St = rowStats(PX, C, D.RMS, D.Epsilon, Shm);
  for (int64_t I = threadIdx.x; I < C; I += BlockThreads) {
    float V = static_cast<float>((PX[I] - St.Mean) * St.InvStd);
    if (Gamma)
      V *= Gamma[I];
    if (Beta)
      V += Beta[I];
    PY[I] = V;
  }
  if (threadIdx.x == 0) {
    if (Mean)
      Mean[R] = static_cast<float>(St.Mean);
    if (Inv)
      Inv[R] = static_cast<float>(St.InvStd);
  }
}

/// dx of one row (if DX), and the row's statistics for the parameter sums.
__global__ void normGradRows(NormDesc D, const float *X, const float *Gamma,
                             const float *DY, float *DX, bool AccX,
                             RowStats *Stats) {
  __shared__ double Shm[BlockThreads / 32];
  int64_t R = blockIdx.x, C = D.Cols;
  const float *PX = X + R * C, *PD = DY + R * C;
  RowStats St = rowStats(PX, C, D.RMS, D.Epsilon, Shm);
  if (Stats && threadIdx.x == 0)
    Stats[R] = St;
  if (!DX)
    return;
  double SumG = 0, SumGX = 0;
  for (int64_t I = threadIdx.x; I < C; I += BlockThreads) {
    double XH = (PX[I] - St.Mean) * St.InvStd;
    float GV = Gamma ? PD[I] * Gamma[I] : PD[I];
    SumG += GV;
    SumGX += static_cast<double>(GV) * XH;
  }
  SumG = blockSum(SumG, Shm);
  SumGX = blockSum(SumGX, Shm);
  double MG = D.RMS ? 0.0 : SumG / C, MGX = SumGX / C;
  float *PO = DX + R * C;
  for (int64_t I = threadIdx.x; I < C; I += BlockThreads) {
    double XH = (PX[I] - St.Mean) * St.InvStd;
    float GV = Gamma ? PD[I] * Gamma[I] : PD[I];
    store(PO + I, static_cast<float>(St.InvStd * (GV - MG - XH * MGX)), AccX);
  }
}

/// Per block of RowBlock rows and per column: sums of dy * xhat and dy.
__global__ void normGradParamParts(NormDesc D, const float *X, const float *DY,
                                   const RowStats *Stats, double *PartG,
                                   double *PartB) {
  int64_t C = D.Cols;
  int64_t Col = blockIdx.x * int64_t(BlockThreads) + threadIdx.x;
  int64_t Blk = blockIdx.y;
  if (Col >= C)
    return;
  double PG = 0, PB = 0;
  int64_t REnd = min(D.Rows, (Blk + 1) * RowBlock);
  for (int64_t R = Blk * RowBlock; R < REnd; ++R) {
    float G = DY[R * C + Col];
    double XH = (X[R * C + Col] - Stats[R].Mean) * Stats[R].InvStd;
    PG += static_cast<double>(G) * XH;
    PB += G;
  }
  if (PartG)
    PartG[Blk * C + Col] = PG;
  if (PartB)
    PartB[Blk * C + Col] = PB;
}

__global__ void normGradParamSum(int64_t Blocks, int64_t C, const double *Part,
                                 float *Out, bool Acc) {
  GL_GRID_LOOP(Col, C) {
    double S = 0;
    for (int64_t Blk = 0; Blk < Blocks; ++Blk)
      S += Part[Blk * C + Col];
    store(Out + Col, static_cast<float>(S), Acc);
  }
}

template <typename T> T *orNull(DevPtr<T> P) { return P ? at(P) : nullptr; }

} // namespace

void CUDABackend::norm(const NormDesc &D, FPtr X, FPtr Gamma, FPtr Beta,
                       FPtr Y, FPtr Mean, FPtr InvStd) {
  if (D.Rows == 0 || D.Cols == 0)
    return;
  if (D.Rows > INT32_MAX) {
    fail("normalization over more than 2^31 rows");
    return;
  }
  launch(*this, "norm", normKernel, dim3(static_cast<unsigned>(D.Rows)),
         dim3(BlockThreads), 0, D, at(X), orNull(Gamma), orNull(Beta), at(Y),
         orNull(Mean), orNull(InvStd));
}

void CUDABackend::normGrad(const NormDesc &D, FPtr X, FPtr Gamma, FPtr Mean,
                           FPtr InvStd, FPtr DY, FPtr DX, bool AccX,
                           FPtr DGamma, FPtr DBeta, bool AccParams) {
  // Mean and InvStd are not read (see CPU/Normalization.cpp).
  int64_t C = D.Cols;
  if (C == 0 || D.Rows > INT32_MAX) {
    if (C)
      fail("normalization over more than 2^31 rows");
    return;
  }
  bool Params = DGamma || DBeta;
  int64_t Blocks = (D.Rows + RowBlock - 1) / RowBlock;
  RowStats *Stats = nullptr;
  if (Params && D.Rows)
    Stats = static_cast<RowStats *>(scratch(D.Rows * sizeof(RowStats)));
  if (D.Rows && (DX || Params))
    launch(*this, "normGrad", normGradRows, dim3(static_cast<unsigned>(D.Rows)),
           dim3(BlockThreads), 0, D, at(X), orNull(Gamma), at(DY), orNull(DX),
           AccX, Stats);
  if (Params) {
    double *PartG = nullptr, *PartB = nullptr;
    uint64_t PartBytes = static_cast<uint64_t>(std::max<int64_t>(Blocks * C, 1)) * 8;
    if (DGamma)
      PartG = static_cast<double *>(scratch(PartBytes));
    if (DBeta)
      PartB = static_cast<double *>(scratch(PartBytes));
    if (Blocks > 65535) {
      fail("normalization gradient over more than 4M rows");
    } else if (Blocks) {
      dim3 Grid(static_cast<unsigned>((C + BlockThreads - 1) / BlockThreads),
                static_cast<unsigned>(Blocks));
      launch(*this, "normGrad (parameters)", normGradParamParts, Grid,
             dim3(BlockThreads), 0, D, at(X), at(DY),
             static_cast<const RowStats *>(Stats), PartG, PartB);
    }
    if (DGamma)
      launch(*this, "normGrad (parameters)", normGradParamSum, dim3(gridFor(C)),
             dim3(BlockThreads), 0, Blocks, C, static_cast<const double *>(PartG),
             at(DGamma), AccParams);
    if (DBeta)
      launch(*this, "normGrad (parameters)", normGradParamSum, dim3(gridFor(C)),
             dim3(BlockThreads), 0, Blocks, C, static_cast<const double *>(PartB),
             at(DBeta), AccParams);
    dropScratch(PartG);
    dropScratch(PartB);
  }
  dropScratch(Stats);
}
