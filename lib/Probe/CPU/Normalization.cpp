//===- Normalization.cpp - LayerNorm and RMSNorm, forward and gradient ----===//
//
// Row statistics in double; the parameter gradients (sums over rows) are
// accumulated per fixed block of rows and the blocks added in order, so they
// do not depend on the thread count.
//
//===----------------------------------------------------------------------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cmath>
#include <vector>

using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

namespace {
constexpr int64_t RowBlock = 64;
} // namespace

void CPUBackend::norm(const NormDesc &D, FPtr XP, FPtr GP, FPtr BP, FPtr YP,
                      FPtr MeanP, FPtr InvP) {
  const float *X = at(XP);
  const float *Gamma = GP ? at(GP) : nullptr, *Beta = BP ? at(BP) : nullptr;
  float *Y = at(YP);
  float *Mean = MeanP ? at(MeanP) : nullptr, *Inv = InvP ? at(InvP) : nullptr;
  int64_t C = D.Cols;
  Par.forRange(D.Rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)),
               [&](int64_t B, int64_t E) {
    for (int64_t R = B; R < E; ++R) {
      const float *PX = X + R * C;
      float *PY = Y + R * C;
      double M = 0;
      if (!D.RMS) {
        for (int64_t I = 0; I < C; ++I)
          M += PX[I];
        M /= static_cast<double>(C);
      }
      double Var = 0;
      for (int64_t I = 0; I < C; ++I) {
        double V = PX[I] - M;
        Var += V * V;
      }
      Var /= static_cast<double>(C);
      double ISD = 1.0 / std::sqrt(Var + D.Epsilon);
      float IS = static_cast<float>(ISD);
      float MF = static_cast<float>(M);
      for (int64_t I = 0; I < C; ++I) {
        float V = static_cast<float>((PX[I] - M) * ISD);
        if (Gamma)
          V *= Gamma[I];
        if (Beta)
          V += Beta[I];
        PY[I] = V;
      }
      if (Mean)
        Mean[R] = MF;
      if (Inv)
        Inv[R] = IS;
    }
  });
}

void CPUBackend::normGrad(const NormDesc &D, FPtr XP, FPtr GP, FPtr MeanP,
                          FPtr InvP, FPtr DYP, FPtr DXP, bool AccX, FPtr DGP,
                          FPtr DBP, bool AccParams) {
  // Mean and InvStd are not read: the row statistics are recomputed in
  // double, since rounding the saved float ones shows in x - mean where
  // |mean| >> std (saturated, large-init models).
  const float *X = at(XP), *DY = at(DYP);
  const float *Gamma = GP ? at(GP) : nullptr;
  float *DX = DXP ? at(DXP) : nullptr;
  float *DG = DGP ? at(DGP) : nullptr, *DB = DBP ? at(DBP) : nullptr;
  int64_t C = D.Cols;
  int64_t Blocks = (D.Rows + RowBlock - 1) / RowBlock;
  bool Params = DG || DB;
  std::vector<double> PartG(Params && DG ? Blocks * C : 0);
  std::vector<double> PartB(Params && DB ? Blocks * C : 0);
  Par.forRange(Blocks, 1, [&](int64_t BB, int64_t BE) {
    std::vector<float> G(C);
    for (int64_t Blk = BB; Blk < BE; ++Blk) {
      double *PG = DG ? &PartG[Blk * C] : nullptr;
      double *PB = DB ? &PartB[Blk * C] : nullptr;
      int64_t REnd = std::min(D.Rows, (Blk + 1) * RowBlock);
      for (int64_t R = Blk * RowBlock; R < REnd; ++R) {
        const float *PX = X + R * C, *PD = DY + R * C;
        double M = 0, Var = 0;
        if (!D.RMS) {
          for (int64_t I = 0; I < C; ++I)
            M += PX[I];
          M /= static_cast<double>(C);
        }
        for (int64_t I = 0; I < C; ++I)
          Var += (PX[I] - M) * (PX[I] - M);
        double IS = 1.0 / std::sqrt(Var / C + D.Epsilon);
        double SumG = 0, SumGX = 0;
        for (int64_t I = 0; I < C; ++I) {
          double XH = (PX[I] - M) * IS;
          float GV = Gamma ? PD[I] * Gamma[I] : PD[I];
          G[I] = GV;
          SumG += GV;
          SumGX += static_cast<double>(GV) * XH;
          if (PG)
            PG[I] += static_cast<double>(PD[I]) * XH;
          if (PB)
            PB[I] += PD[I];
        }
        if (!DX)
          continue;
        double MG = D.RMS ? 0.0 : SumG / C, MGX = SumGX / C;
        float *PO = DX + R * C;
        for (int64_t I = 0; I < C; ++I) {
          double XH = (PX[I] - M) * IS;
          store(PO + I, static_cast<float>(IS * (G[I] - MG - XH * MGX)), AccX);
        }
      }
    }
  });
  auto Combine = [&](std::vector<double> &Part, float *Out) {
    for (int64_t I = 0; I < C; ++I) {
      double S = 0;
      for (int64_t Blk = 0; Blk < Blocks; ++Blk)
        S += Part[Blk * C + I];
      store(Out + I, static_cast<float>(S), AccParams);
    }
  };
  if (DG)
    Combine(PartG, DG);
  if (DB)
    Combine(PartB, DB);
}
