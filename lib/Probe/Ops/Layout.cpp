//===- Layout.cpp - shapes to kernel descriptors --------------------------===//
#include "Layout.h"
#include "gradlint/Support/Error.h"

using namespace gradlint;
using namespace gradlint::probe;

Dims gradlint::probe::denseStrides(llvm::ArrayRef<int64_t> Shape) {
  Dims S(Shape.size(), 1);
  for (int I = static_cast<int>(Shape.size()) - 2; I >= 0; --I)
    S[I] = S[I + 1] * Shape[I + 1];
  return S;
}

int64_t gradlint::probe::product(llvm::ArrayRef<int64_t> Shape) {
  int64_t N = 1;
  for (int64_t D : Shape)
    N *= D;
  return N;
}

static llvm::Error tooManyDims(size_t Rank) {
  return makeError("a tensor needs " + llvm::Twine(Rank) +
                   " strided dimensions; the probe's kernels take at most " +
                   llvm::Twine(MaxKernelRank));
}

llvm::Expected<BroadcastDesc>
gradlint::probe::broadcastDesc(llvm::ArrayRef<int64_t> Out,
                               llvm::ArrayRef<Dims> Operands) {
  size_t R = Out.size(), K = Operands.size();
  // Strides of each operand against Out (0 along broadcast dimensions).
  std::vector<Dims> Strides(K, Dims(R, 0));
  for (size_t Op = 0; Op != K; ++Op) {
    const Dims &S = Operands[Op];
    if (S.size() > R)
      return makeError("operand of rank " + llvm::Twine(S.size()) +
                       " does not broadcast to rank " + llvm::Twine(R));
    Dims Dense = denseStrides(S);
    size_t Lead = R - S.size();
    for (size_t I = 0; I != S.size(); ++I) {
      if (S[I] != Out[Lead + I] && S[I] != 1)
        return makeError("shapes do not broadcast");
      Strides[Op][Lead + I] = S[I] == 1 ? 0 : Dense[I];
    }
  }
  // Drop size-1 dimensions and merge neighbours contiguous for all operands.
  Dims Shape;
  std::vector<Dims> Merged(K);
  for (size_t I = 0; I != R; ++I) {
    if (Out[I] == 1)
      continue;
    bool CanMerge = !Shape.empty();
    for (size_t Op = 0; Op != K && CanMerge; ++Op)
      CanMerge = Merged[Op].back() == Strides[Op][I] * Out[I];
    if (CanMerge) {
      Shape.back() *= Out[I];
      for (size_t Op = 0; Op != K; ++Op)
        Merged[Op].back() = Strides[Op][I];
      continue;
    }
    Shape.push_back(Out[I]);
    for (size_t Op = 0; Op != K; ++Op)
      Merged[Op].push_back(Strides[Op][I]);
  }
  if (Shape.size() > MaxKernelRank)
    return tooManyDims(Shape.size());
  BroadcastDesc D;
  D.Rank = Shape.size();
  for (size_t I = 0; I != Shape.size(); ++I) {
    D.Shape[I] = Shape[I];
    for (size_t Op = 0; Op != K && Op != 3; ++Op)
      D.Stride[Op][I] = Merged[Op][I];
  }
  return D;
}

llvm::Expected<ReduceDesc>
gradlint::probe::sumToDesc(llvm::ArrayRef<int64_t> Full,
                           llvm::ArrayRef<int64_t> Small) {
  if (Small.size() > Full.size())
    return makeError("gradient of rank " + llvm::Twine(Small.size()) +
                     " cannot come from rank " + llvm::Twine(Full.size()));
  size_t Lead = Full.size() - Small.size();
  ReduceDesc D;
  for (size_t I = 0; I != Full.size(); ++I) {
    if (Full[I] == 1)
      continue;
    bool Red = I < Lead || Small[I - Lead] == 1;
    if (D.Rank && D.Reduced[D.Rank - 1] == Red) {
      D.Shape[D.Rank - 1] *= Full[I];
      continue;
    }
    if (D.Rank == MaxKernelRank)
      return tooManyDims(D.Rank + 1);
    D.Shape[D.Rank] = Full[I];
    D.Reduced[D.Rank] = Red;
    ++D.Rank;
  }
  return D;
}

llvm::Expected<CopyDesc> CopyPlan::build() const {
  Dims S, SS, DS;
  for (size_t I = 0; I != Shape.size(); ++I) {
    if (Shape[I] == 1)
      continue;
    if (!S.empty() && SS.back() == Src[I] * Shape[I] &&
        DS.back() == Dst[I] * Shape[I]) {
      S.back() *= Shape[I];
      SS.back() = Src[I];
      DS.back() = Dst[I];
      continue;
    }
    S.push_back(Shape[I]);
    SS.push_back(Src[I]);
    DS.push_back(Dst[I]);
  }
  if (S.size() > MaxKernelRank)
    return tooManyDims(S.size());
  CopyDesc D;
  D.Rank = S.size();
  D.Alpha = Alpha;
  for (size_t I = 0; I != S.size(); ++I) {
    D.Shape[I] = S[I];
    D.SrcStride[I] = SS[I];
    D.DstStride[I] = DS[I];
  }
  for (int64_t X : Shape)
    if (X == 0) { // empty: a zero-sized copy
      D.Rank = 1;
      D.Shape[0] = 0;
    }
  return D;
}

CopyDesc gradlint::probe::denseCopy(int64_t N, float Alpha) {
  CopyDesc D;
  D.Rank = 1;
  D.Shape[0] = N;
  D.SrcStride[0] = D.DstStride[0] = 1;
  D.Alpha = Alpha;
  return D;
}
