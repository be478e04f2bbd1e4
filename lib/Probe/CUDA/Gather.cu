//===- Gather.cu - row gathers and their scatter-add gradients ------------===//
//
// Scatter-adds are deterministic and add in the CPU backend's order: the
// indices are grouped by destination (a stable sort on the host, so each
// group keeps increasing source order), and one thread per destination
// element adds its group's sources in that order. No float atomics. The sort
// needs the indices on the host: one wait per scatter-add (the embedding
// gradients, once per backward pass).
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"
#include <algorithm>
#include <numeric>
#include <vector>

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

__global__ void gatherKernel(GatherDesc D, const float *X, const int64_t *Idx,
                             float *Y) {
  int64_t In = D.Inner;
  GL_GRID_LOOP(I, D.Outer * D.Count * In) {
    int64_t J = I % In, L = I / In;
    int64_t O = L / D.Count, C = L % D.Count;
    int64_t Row = Idx[C];
    Y[I] = Row >= 0 && Row < D.AxisSize ? X[(O * D.AxisSize + Row) * In + J]
                                        : NAN;
  }
}

__global__ void gatherFlatKernel(const float *X, const int64_t *Off, float *Y,
                                 int64_t N) {
  GL_GRID_LOOP(I, N) Y[I] = X[Off[I]];
}

/// Indices grouped by destination: group G writes row Key[G] from the
/// sources Order[Start[G] .. Start[G + 1]), in increasing order.
struct Groups {
  int64_t Count = 0; ///< groups
  const int64_t *Key = nullptr, *Start = nullptr, *Order = nullptr;
};

/// DX[(o * AxisSize + Key[g]) * In + j] += DY[(o * Sources + s) * In + j]
/// over the group's sources s, in order.
__global__ void scatterAddKernel(Groups G, int64_t Outer, int64_t AxisSize,
                                 int64_t Sources, int64_t In, const float *DY,
                                 float *DX) {
  GL_GRID_LOOP(I, Outer * G.Count * In) {
    int64_t J = I % In, L = I / In;
    int64_t O = L / G.Count, Grp = L % G.Count;
    float *P = DX + (O * AxisSize + G.Key[Grp]) * In + J;
    float Acc = *P;
    for (int64_t S = G.Start[Grp]; S < G.Start[Grp + 1]; ++S)
      Acc += DY[(O * Sources + G.Order[S]) * In + J];
    *P = Acc;
  }
}

/// Groups Count indices (read back from the device) by destination in
/// [0, AxisSize); indices outside it are dropped. Returns device memory
/// holding Key, Start and Order back to back (freed by the caller).
int64_t *groupIndices(CUDABackend &B, IPtr Idx, int64_t Count, int64_t AxisSize,
                      Groups &G) {
  std::vector<int64_t> Host(Count);
  B.download(Host.data(), Idx.Base, Idx.Offset * 8, Count * 8);
  std::vector<int64_t> Order(Count);
  std::iota(Order.begin(), Order.end(), 0);
  std::stable_sort(Order.begin(), Order.end(),
                   [&](int64_t A, int64_t C) { return Host[A] < Host[C]; });
  std::vector<int64_t> Key, Start, Kept;
  Kept.reserve(Count);
  for (int64_t S : Order) {
    int64_t Row = Host[S];
    if (Row < 0 || Row >= AxisSize)
      continue;
    if (Key.empty() || Key.back() != Row) {
      Key.push_back(Row);
      Start.push_back(static_cast<int64_t>(Kept.size()));
    }
    Kept.push_back(S);
  }
  Start.push_back(static_cast<int64_t>(Kept.size()));
  G.Count = static_cast<int64_t>(Key.size());
  std::vector<int64_t> All;
  All.reserve(Key.size() + Start.size() + Kept.size());
  All.insert(All.end(), Key.begin(), Key.end());
  All.insert(All.end(), Start.begin(), Start.end());
  All.insert(All.end(), Kept.begin(), Kept.end());
  auto *Dev = static_cast<int64_t *>(B.scratch(All.size() * 8));
  if (!Dev)
    return nullptr;
  B.stage(Dev, All.data(), All.size() * 8);
  G.Key = Dev;
  G.Start = Dev + Key.size();
  G.Order = G.Start + Start.size();
  return Dev;
}

void scatterAdd(CUDABackend &B, IPtr Idx, int64_t Outer, int64_t AxisSize,
                int64_t Sources, int64_t In, FPtr DYP, FPtr DXP, bool Acc) {
  if (!Acc)
    B.fill(DXP, Outer * AxisSize * In, 0.0f);
  if (Sources == 0 || Outer == 0 || In == 0)
    return;
  Groups G;
  int64_t *Dev = groupIndices(B, Idx, Sources, AxisSize, G);
  if (!Dev)
    return;
  launch(B, "scatter-add", scatterAddKernel,
         dim3(gridFor(Outer * G.Count * In)), dim3(BlockThreads), 0, G, Outer,
         AxisSize, Sources, In, at(DYP), at(DXP));
  B.dropScratch(Dev);
}

} // namespace

void CUDABackend::gather(const GatherDesc &D, FPtr X, IPtr Idx, FPtr Y) {
  launch(*this, "gather", gatherKernel,
         dim3(gridFor(D.Outer * D.Count * D.Inner)), dim3(BlockThreads), 0, D,
         at(X), static_cast<const int64_t *>(at(Idx)), at(Y));
}

void CUDABackend::gatherGrad(const GatherDesc &D, IPtr Idx, FPtr DY, FPtr DX,
                             bool Acc) {
  scatterAdd(*this, Idx, D.Outer, D.AxisSize, D.Count, D.Inner, DY, DX, Acc);
}

void CUDABackend::gatherFlat(FPtr X, IPtr Offsets, FPtr Y, int64_t N) {
  launch(*this, "gatherFlat", gatherFlatKernel, dim3(gridFor(N)),
         dim3(BlockThreads), 0, at(X), static_cast<const int64_t *>(at(Offsets)),
         at(Y), N);
}

void CUDABackend::gatherFlatGrad(IPtr Offsets, FPtr DY, FPtr DX, int64_t N,
                                 int64_t XSize, bool Acc) {
  scatterAdd(*this, Offsets, 1, XSize, N, 1, DY, DX, Acc);
}
