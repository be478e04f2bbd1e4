//===- CUDAKernelTest.cpp - every CUDA kernel against the CPU backend -----===//
//
// Each family's kernels run on the same data on both backends, forward and
// gradient, plain and accumulating; results must agree within 1e-4 of each
// tensor's largest magnitude (NaNs and infinities in the same places), and
// scalar reductions within 1e-10. Cases cover the launch shapes the CUDA
// kernels choose between (warp or block per line, row or column reductions,
// one chunk or several); 64-bit indexing stays untested (2^31 elements).
//
//===----------------------------------------------------------------------===//
#include "CUDATest.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Support/Random.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::test;

namespace {

constexpr double Tol = 1e-4;

/// One tensor held by both backends.
struct Buf {
  DeviceBuffer C, G;
  int64_t N = 0;
  template <typename T> DevPtr<T> cpu(int64_t Off = 0) const {
    return {C.Base, Off};
  }
  template <typename T> DevPtr<T> gpu(int64_t Off = 0) const {
    return {G.Base, Off};
  }
};

/// The two backends, the tensors they share, and the failures found.
struct Twin {
  std::unique_ptr<Backend> Cpu = createCPUBackend(2), Gpu = cudaBackendOrSkip();
  std::vector<Buf> Bufs;
  std::string Failures;

  ~Twin() {
    for (Buf &B : Bufs) {
      Cpu->release(B.C);
      Gpu->release(B.G);
    }
  }

  Buf bytes(const void *Data, int64_t Bytes, int64_t N) {
    auto C = Cpu->allocate(std::max<int64_t>(Bytes, 4));
    auto G = Gpu->allocate(std::max<int64_t>(Bytes, 4));
    REQUIRE(static_cast<bool>(C));
    if (!G)
      FAIL(llvm::toString(G.takeError()));
    Buf B{*C, *G, N};
    if (Bytes) {
      Cpu->upload(B.C.Base, 0, Data, Bytes);
      Gpu->upload(B.G.Base, 0, Data, Bytes);
    }
    Bufs.push_back(B);
    return B;
  }
  Buf floats(const std::vector<float> &V) {
    return bytes(V.data(), V.size() * 4, V.size());
  }
  Buf ints(const std::vector<int64_t> &V) {
    return bytes(V.data(), V.size() * 8, V.size());
  }
  Buf mask(const std::vector<uint8_t> &V) {
    return bytes(V.data(), V.size(), V.size());
  }

  std::vector<float> read(Backend &B, const DeviceBuffer &D, int64_t N) {
    std::vector<float> Out(N);
    B.download(Out.data(), D.Base, 0, N * 4);
    return Out;
  }
  /// Compares a float tensor; records a failure line under Name.
  void expect(const std::string &Name, const Buf &B, double T = Tol) {
    std::string Why;
    if (!closeRelative(read(*Gpu, B.G, B.N), read(*Cpu, B.C, B.N), T, Why))
      Failures += Name + ": " + Why + "\n";
  }
  void expectScalar(const std::string &Name, double G, double C,
                    double T = 1e-10) {
    if (!(std::fabs(G - C) <= T * std::max(std::fabs(C), 1e-300)) &&
        !(std::isnan(G) && std::isnan(C)))
      Failures += Name + ": " + std::to_string(G) + ", expected " +
                  std::to_string(C) + "\n";
  }
  /// Runs F on the CPU then on the GPU (F gets the backend and whether it
  /// is the GPU, to pick each Buf's side).
  void both(const std::function<void(Backend &, bool)> &F) {
    F(*Cpu, false);
    F(*Gpu, true);
  }
  void report() {
    INFO(Failures);
    CHECK(Failures.empty());
  }
};

template <typename T> DevPtr<T> side(const Buf &B, bool Gpu, int64_t Off = 0) {
  return Gpu ? B.gpu<T>(Off) : B.cpu<T>(Off);
}
FPtr F(const Buf &B, bool Gpu, int64_t Off = 0) { return side<float>(B, Gpu, Off); }
IPtr I(const Buf &B, bool Gpu) { return side<int64_t>(B, Gpu); }
MPtr M(const Buf &B, bool Gpu) { return side<uint8_t>(B, Gpu); }

std::vector<float> normal(int64_t N, uint64_t Seed, double Scale = 1,
                          double Shift = 0) {
  Rng R(Seed);
  std::vector<float> V(N);
  for (float &X : V)
    X = static_cast<float>(Shift + Scale * R.normal());
  return V;
}

std::vector<float> uniform(int64_t N, uint64_t Seed, double Lo, double Hi) {
  Rng R(Seed);
  std::vector<float> V(N);
  for (float &X : V)
    X = static_cast<float>(Lo + (Hi - Lo) * R.uniform());
  return V;
}

const char *unaryName(UnaryOp Op) {
  static const char *Names[] = {
      "Identity", "Affine",      "Neg",       "Abs",       "Sqrt",
      "Reciprocal", "Exp",       "Log",       "Ceil",      "Floor",
      "Erf",      "Tanh",        "Sigmoid",   "Relu",      "LeakyRelu",
      "Elu",      "Selu",        "Softplus",  "Mish",      "HardSigmoid",
      "Clip",     "Gelu",        "GeluTanh",  "QuickGelu", "Softcap",
      "RoundHalf", "RoundBFloat16"};
  return Names[static_cast<int>(Op)];
}

const char *binaryName(BinaryOp Op) {
  static const char *Names[] = {"Add", "Sub", "Mul", "Div",
                                "Pow", "Max", "Min", "Mod"};
  return Names[static_cast<int>(Op)];
}

} // namespace

TEST_CASE("cuda kernels: unary maps and their derivatives", "[cuda]") {
  Twin T;
  const int64_t N = 4099;
  constexpr int Last = static_cast<int>(UnaryOp::RoundBFloat16);
  static_assert(Last == 26, "a new unary op: add it to unaryName and here");
  for (int K = 0; K <= Last; ++K) {
    auto Op = static_cast<UnaryOp>(K);
    std::string Name = unaryName(Op);
    UnaryParams P;
    if (Op == UnaryOp::Affine)
      P = {1.5f, -0.3f, 0};
    else if (Op == UnaryOp::LeakyRelu)
      P = {0.1f, 0, 0};
    else if (Op == UnaryOp::Elu)
      P = {0.7f, 0, 0};
    else if (Op == UnaryOp::Selu)
      P = {1.6732632f, 0, 1.0507010f};
    else if (Op == UnaryOp::HardSigmoid)
      P = {0.2f, 0.5f, 0};
    else if (Op == UnaryOp::Clip)
      P = {-1.0f, 1.0f, 0};
    else if (Op == UnaryOp::QuickGelu)
      P = {1.702f, 0, 0};
    else if (Op == UnaryOp::Softcap)
      P = {2.0f, 0, 0};
    bool Positive = Op == UnaryOp::Sqrt || Op == UnaryOp::Log ||
                    Op == UnaryOp::Reciprocal;
    std::vector<float> X = Positive ? uniform(N, K, 0.05, 4) : normal(N, K, 3);
    // Values the kernels must treat alike: zeros, infinities, NaN, the
    // float16 range's edges.
    std::vector<float> Special = {0.0f, -0.0f, INFINITY, -INFINITY, NAN,
                                  70000.0f, -65519.0f, 3e-6f, -1e-8f, 88.5f};
    std::vector<float> XS = X;
    XS.insert(XS.end(), Special.begin(), Special.end());
    Buf In = T.floats(XS), Y = T.floats(std::vector<float>(XS.size()));
    T.both([&](Backend &B, bool G) { B.unary(Op, P, F(In, G), F(Y, G), XS.size()); });
    T.expect(Name + " forward", Y);

    // Gradients on finite data, both from each side's own forward values.
    Buf X2 = T.floats(X), Y2 = T.floats(std::vector<float>(N));
    Buf DY = T.floats(normal(N, 100 + K));
    Buf DX = T.floats(normal(N, 200 + K)), DXA = T.floats(normal(N, 300 + K));
    UnaryNeeds Needs = unaryNeeds(Op);
    T.both([&](Backend &B, bool G) {
      B.unary(Op, P, F(X2, G), F(Y2, G), N);
      FPtr XP = Needs.X ? F(X2, G) : FPtr(), YP = Needs.Y ? F(Y2, G) : FPtr();
      B.unaryGrad(Op, P, XP, YP, F(DY, G), F(DX, G), N, false);
      B.unaryGrad(Op, P, XP, YP, F(DY, G), F(DXA, G), N, true);
    });
    T.expect(Name + " gradient", DX);
    T.expect(Name + " gradient (accumulated)", DXA);
  }
  T.report();
}

namespace {
/// A broadcast layout of two operands over an output of Shape.
struct Layout {
  std::string Name;
  std::vector<int64_t> Shape, SA, SB; ///< strides; 0 where broadcast
  int64_t NA, NB;                      ///< operand sizes
};

std::vector<Layout> layouts() {
  return {
      {"same shape", {4, 33}, {33, 1}, {33, 1}, 132, 132},
      {"row broadcast", {4, 33}, {33, 1}, {0, 1}, 132, 33},
      {"outer product", {4, 33}, {1, 0}, {0, 1}, 4, 33},
      {"scalar", {4, 33}, {0, 0}, {33, 1}, 1, 132},
      {"transposed", {4, 33}, {1, 4}, {33, 1}, 132, 132},
      {"rank 3", {3, 5, 7}, {35, 7, 1}, {0, 1, 0}, 105, 5},
  };
}

BroadcastDesc desc(const Layout &L) {
  BroadcastDesc D;
  D.Rank = L.Shape.size();
  for (unsigned I = 0; I != D.Rank; ++I) {
    D.Shape[I] = L.Shape[I];
    D.Stride[0][I] = L.SA[I];
    D.Stride[1][I] = L.SB[I];
  }
  return D;
}
} // namespace

TEST_CASE("cuda kernels: binary maps with broadcasting, and their partials",
          "[cuda]") {
  Twin T;
  for (int K = 0; K <= static_cast<int>(BinaryOp::Mod); ++K) {
    auto Op = static_cast<BinaryOp>(K);
    for (const Layout &L : layouts()) {
      std::string Name = std::string(binaryName(Op)) + " " + L.Name;
      BroadcastDesc D = desc(L);
      int64_t N = D.numElements();
      std::vector<float> A = Op == BinaryOp::Pow ? uniform(L.NA, K, 0.2, 3)
                                                 : normal(L.NA, K, 2);
      std::vector<float> B = normal(L.NB, 50 + K, 2);
      if (Op == BinaryOp::Div || Op == BinaryOp::Mod)
        for (float &X : B)
          X = X < 0 ? X - 0.3f : X + 0.3f;
      if (Op == BinaryOp::Pow)
        B = uniform(L.NB, 50 + K, -2, 3);
      if (Op == BinaryOp::Max || Op == BinaryOp::Min)
        A[0] = B[0]; // a tie: the gradient splits
      Buf BA = T.floats(A), BB = T.floats(B), Y = T.floats(std::vector<float>(N));
      Buf DY = T.floats(normal(N, 7));
      Buf GA = T.floats(normal(N, 8)), GB = T.floats(normal(N, 9));
      T.both([&](Backend &Be, bool G) {
        Be.binary(Op, D, F(BA, G), F(BB, G), F(Y, G));
        Be.binaryGrad(Op, D, F(BA, G), F(BB, G), F(Y, G), F(DY, G), F(GA, G),
                      false, F(GB, G), true);
      });
      T.expect(Name + " forward", Y);
      T.expect(Name + " d/da", GA);
      T.expect(Name + " d/db (accumulated)", GB);
    }
  }
  // Where: the condition broadcast along rows, then dense.
  for (bool Dense : {false, true}) {
    BroadcastDesc D;
    D.Rank = 2;
    D.Shape[0] = 6, D.Shape[1] = 41;
    D.Stride[0][0] = Dense ? 41 : 1, D.Stride[0][1] = Dense ? 1 : 0;
    D.Stride[1][0] = 41, D.Stride[1][1] = 1;
    D.Stride[2][0] = 0, D.Stride[2][1] = 1;
    Rng R(5);
    std::vector<uint8_t> C(Dense ? 246 : 6);
    for (uint8_t &X : C)
      X = R.below(2);
    Buf BC = T.mask(C), BA = T.floats(normal(246, 1)), BB = T.floats(normal(41, 2));
    Buf Y = T.floats(std::vector<float>(246)), DY = T.floats(normal(246, 3));
    Buf GA = T.floats(normal(246, 4)), GB = T.floats(normal(246, 5));
    T.both([&](Backend &Be, bool G) {
      Be.where(D, M(BC, G), F(BA, G), F(BB, G), F(Y, G));
      Be.whereGrad(D, M(BC, G), F(DY, G), F(GA, G), true, F(GB, G), false);
    });
    std::string Name = Dense ? "Where dense" : "Where broadcast";
    T.expect(Name + " forward", Y);
    T.expect(Name + " d/da (accumulated)", GA);
    T.expect(Name + " d/db", GB);
  }
  T.report();
}

TEST_CASE("cuda kernels: matrix products (cuBLAS, float32)", "[cuda]") {
  Twin T;
  struct Case {
    int64_t M, N, K, Batch;
    bool TransA, TransB;
    float Alpha, Beta;
    int64_t Pad;     ///< extra leading dimension
    bool ShareA;     ///< StrideA = 0
  };
  std::vector<Case> Cases;
  for (bool TA : {false, true})
    for (bool TB : {false, true}) {
      Cases.push_back({7, 9, 5, 1, TA, TB, 1, 0, 0, false});
      Cases.push_back({64, 48, 96, 1, TA, TB, 0.5f, 1.5f, 3, false});
      Cases.push_back({33, 17, 40, 3, TA, TB, 1, 0, 0, false});
    }
  Cases.push_back({12, 10, 8, 4, false, true, 0.125f, 0, 2, true});
  Cases.push_back({5, 6, 0, 1, false, false, 1, 0, 0, false});
  Cases.push_back({5, 6, 0, 2, false, false, 1, 2, 0, false});
  Cases.push_back({256, 768, 768, 1, false, false, 1, 0, 0, false});
  for (const Case &C : Cases) {
    GemmDesc D;
    D.M = C.M, D.N = C.N, D.K = C.K, D.Batch = C.Batch;
    D.TransA = C.TransA, D.TransB = C.TransB;
    D.Alpha = C.Alpha, D.Beta = C.Beta;
    int64_t RA = C.TransA ? C.K : C.M, CA = C.TransA ? C.M : C.K;
    int64_t RB = C.TransB ? C.N : C.K, CB = C.TransB ? C.K : C.N;
    D.Lda = CA + C.Pad, D.Ldb = CB + C.Pad, D.Ldc = C.N + C.Pad;
    D.StrideA = C.ShareA ? 0 : RA * D.Lda;
    D.StrideB = RB * D.Ldb, D.StrideC = C.M * D.Ldc;
    int64_t SizeA = std::max<int64_t>(1, (C.ShareA ? 1 : C.Batch) * RA * D.Lda);
    Buf A = T.floats(normal(SizeA, 1)), B = T.floats(normal(C.Batch * RB * D.Ldb + 1, 2));
    Buf Out = T.floats(normal(C.Batch * C.M * D.Ldc, 3));
    T.both([&](Backend &Be, bool G) { Be.gemm(D, F(A, G), F(B, G), F(Out, G)); });
    T.expect("gemm " + std::to_string(C.M) + "x" + std::to_string(C.N) + "x" +
                 std::to_string(C.K) + " batch " + std::to_string(C.Batch) +
                 (C.TransA ? " A^T" : "") + (C.TransB ? " B^T" : ""),
             Out);
  }
  T.report();
}

TEST_CASE("cuda kernels: softmax and log-softmax, forward and gradient",
          "[cuda]") {
  Twin T;
  struct Case {
    int64_t Outer, Axis, Inner;
  };
  for (Case C : {Case{6, 7, 1}, Case{3, 300, 1}, Case{2, 2000, 1},
                 Case{2, 5, 3}, Case{4, 1500, 2}, Case{37, 128, 1}})
    for (bool Log : {false, true})
      for (bool Zero : {false, true}) {
        SoftmaxDesc D;
        D.Outer = C.Outer, D.Axis = C.Axis, D.Inner = C.Inner;
        D.Log = Log, D.ZeroMaskedLines = Zero;
        int64_t N = C.Outer * C.Axis * C.Inner;
        std::vector<float> X = normal(N, C.Axis, 4);
        // A causal-style mask in the first line, a fully masked second one.
        for (int64_t I = C.Axis / 2; I < C.Axis; ++I)
          X[I * C.Inner] = -INFINITY;
        if (Zero && C.Outer > 1)
          for (int64_t I = 0; I < C.Axis; ++I)
            X[(C.Axis + I) * C.Inner] = -INFINITY;
        std::string Name = std::string(Log ? "log-softmax " : "softmax ") +
                           std::to_string(C.Outer) + "x" + std::to_string(C.Axis) +
                           "x" + std::to_string(C.Inner) + (Zero ? " zero-masked" : "");
        Buf BX = T.floats(X), Y = T.floats(std::vector<float>(N));
        Buf DY = T.floats(normal(N, 11)), DX = T.floats(normal(N, 12));
        T.both([&](Backend &B, bool G) {
          B.softmax(D, F(BX, G), F(Y, G));
          B.softmaxGrad(D, F(Y, G), F(DY, G), F(DX, G), Zero);
        });
        T.expect(Name + " forward", Y);
        T.expect(Name + (Zero ? " gradient (accumulated)" : " gradient"), DX);
      }
  T.report();
}

TEST_CASE("cuda kernels: LayerNorm and RMSNorm, forward and gradient",
          "[cuda]") {
  Twin T;
  struct Case {
    int64_t Rows, Cols;
    bool RMS, Gamma, Beta;
  };
  for (Case C : {Case{130, 768, false, true, true}, Case{130, 768, true, true, false},
                 Case{5, 33, false, false, false}, Case{64, 300, true, false, false},
                 Case{1, 1000, false, true, true}, Case{200, 64, false, true, true}})
    for (bool Acc : {false, true}) {
      NormDesc D;
      D.Rows = C.Rows, D.Cols = C.Cols, D.RMS = C.RMS, D.Epsilon = 1e-5f;
      int64_t N = C.Rows * C.Cols;
      // Mean far from zero: the statistics must be taken in double.
      Buf X = T.floats(normal(N, C.Cols, 2, C.RMS ? 0 : 30));
      Buf Gm = T.floats(normal(C.Cols, 2, 0.5, 1)), Bt = T.floats(normal(C.Cols, 3));
      Buf Y = T.floats(std::vector<float>(N));
      Buf Mean = T.floats(std::vector<float>(C.Rows)),
          Inv = T.floats(std::vector<float>(C.Rows));
      Buf DY = T.floats(normal(N, 4)), DX = T.floats(normal(N, 5));
      Buf DG = T.floats(normal(C.Cols, 6)), DB = T.floats(normal(C.Cols, 7));
      T.both([&](Backend &B, bool G) {
        FPtr GP = C.Gamma ? F(Gm, G) : FPtr(), BP = C.Beta ? F(Bt, G) : FPtr();
        B.norm(D, F(X, G), GP, BP, F(Y, G), C.RMS ? FPtr() : F(Mean, G), F(Inv, G));
        B.normGrad(D, F(X, G), GP, C.RMS ? FPtr() : F(Mean, G), F(Inv, G),
                   F(DY, G), F(DX, G), Acc, C.Gamma ? F(DG, G) : FPtr(),
                   C.Beta ? F(DB, G) : FPtr(), Acc);
      });
      std::string Name = std::string(C.RMS ? "RMSNorm " : "LayerNorm ") +
                         std::to_string(C.Rows) + "x" + std::to_string(C.Cols) +
                         (Acc ? " (accumulated)" : "");
      T.expect(Name + " forward", Y);
      if (!C.RMS)
        T.expect(Name + " mean", Mean);
      T.expect(Name + " inverse std", Inv);
      T.expect(Name + " dx", DX);
      if (C.Gamma)
        T.expect(Name + " dgamma", DG);
      if (C.Beta)
        T.expect(Name + " dbeta", DB);
    }
  T.report();
}

TEST_CASE("cuda kernels: reductions, max gradients, sums of squares, dots",
          "[cuda]") {
  Twin T;
  struct Case {
    std::vector<int64_t> Shape;
    std::vector<bool> Reduced;
  };
  std::vector<Case> Cases;
  for (unsigned Mask = 0; Mask != 8; ++Mask)
    Cases.push_back({{5, 6, 7}, {bool(Mask & 4), bool(Mask & 2), bool(Mask & 1)}});
  Cases.push_back({{3000, 40}, {true, false}});       // columns, chunked
  Cases.push_back({{2, 50000}, {false, true}});       // rows, chunked
  Cases.push_back({{70001}, {true}});                 // everything
  Cases.push_back({{9, 1, 2000}, {false, true, true}}); // rows, one block each
  Cases.push_back({{4, 3, 1, 5, 2}, {true, false, true, false, true}});
  for (const Case &C : Cases)
    for (ReduceKind Kind : {ReduceKind::Sum, ReduceKind::Max}) {
      ReduceDesc D;
      D.Kind = Kind;
      D.Rank = C.Shape.size();
      int64_t N = 1, Kept = 1;
      for (unsigned I = 0; I != D.Rank; ++I) {
        D.Shape[I] = C.Shape[I];
        D.Reduced[I] = C.Reduced[I];
        N *= C.Shape[I];
        if (!C.Reduced[I])
          Kept *= C.Shape[I];
      }
      D.Scale = Kind == ReduceKind::Sum ? 0.25f : 1.0f;
      std::vector<float> X = normal(N, N);
      if (Kind == ReduceKind::Max) // small integers: ties
        for (float &V : X)
          V = std::round(V * 2);
      std::string Name = std::string(Kind == ReduceKind::Sum ? "sum" : "max") +
                         " over";
      for (unsigned I = 0; I != D.Rank; ++I)
        Name += (C.Reduced[I] ? " *" : " ") + std::to_string(C.Shape[I]);
      Buf BX = T.floats(X), Y = T.floats(std::vector<float>(Kept));
      Buf YA = T.floats(normal(Kept, 3));
      Buf DY = T.floats(normal(Kept, 4)), DX = T.floats(normal(N, 5));
      T.both([&](Backend &B, bool G) {
        B.reduce(D, F(BX, G), F(Y, G), false);
        B.reduce(D, F(BX, G), F(YA, G), true);
        if (Kind == ReduceKind::Max)
          B.reduceMaxGrad(D, F(BX, G), F(Y, G), F(DY, G), F(DX, G), true);
      });
      T.expect(Name, Y);
      T.expect(Name + " (accumulated)", YA);
      if (Kind == ReduceKind::Max)
        T.expect(Name + " gradient", DX);
    }
  // Scalar reductions: dense, a strided block, and sizes around the chunks.
  for (int64_t N : {int64_t(1), int64_t(8192), int64_t(8193), int64_t(100003)}) {
    Buf A = T.floats(normal(N, 1)), B = T.floats(normal(N, 2));
    T.expectScalar("sumSquares " + std::to_string(N),
                   T.Gpu->sumSquares(A.gpu<float>(), 1, N, N),
                   T.Cpu->sumSquares(A.cpu<float>(), 1, N, N));
    T.expectScalar("dot " + std::to_string(N), T.Gpu->dot(A.gpu<float>(), B.gpu<float>(), N),
                   T.Cpu->dot(A.cpu<float>(), B.cpu<float>(), N));
  }
  Buf W = T.floats(normal(100 * 80, 3));
  T.expectScalar("sumSquares of a 100x77 block (ld 80)",
                 T.Gpu->sumSquares(W.gpu<float>(3), 100, 77, 80),
                 T.Cpu->sumSquares(W.cpu<float>(3), 100, 77, 80));
  T.report();
}

TEST_CASE("cuda kernels: strided copies and triangles", "[cuda]") {
  Twin T;
  struct Case {
    std::string Name;
    std::vector<int64_t> Shape, Src, Dst;
    int64_t SrcSize, DstSize, SrcOff;
    float Alpha;
    bool Acc;
  };
  std::vector<Case> Cases = {
      {"dense", {1000}, {1}, {1}, 1000, 1000, 0, 1, false},
      {"transpose 0 2 1", {3, 5, 4}, {20, 1, 5}, {20, 4, 1}, 60, 60, 0, 1, false},
      {"attention heads [B,T,H,D] -> [B,H,T,D]",
       {2, 4, 8, 16}, {512, 16, 64, 1}, {512, 128, 16, 1}, 1024, 1024, 0, 1, false},
      {"slice", {4, 6}, {10, 1}, {6, 1}, 40, 24, 3, 1, false},
      {"expand", {5, 7}, {0, 1}, {7, 1}, 7, 35, 0, 1, false},
      {"negated, accumulated", {6, 9}, {9, 1}, {9, 1}, 54, 54, 0, -1, true},
      {"into a concat slot", {3, 4}, {4, 1}, {10, 1}, 12, 30, 0, 0.5f, true},
      {"rank 0", {}, {}, {}, 1, 1, 0, 2, false},
  };
  for (const Case &C : Cases) {
    CopyDesc D;
    D.Rank = C.Shape.size();
    for (unsigned I = 0; I != D.Rank; ++I) {
      D.Shape[I] = C.Shape[I];
      D.SrcStride[I] = C.Src[I];
      D.DstStride[I] = C.Dst[I];
    }
    D.Alpha = C.Alpha;
    Buf S = T.floats(normal(C.SrcSize, 1)), Dst = T.floats(normal(C.DstSize, 2));
    T.both([&](Backend &B, bool G) { B.copy(D, F(S, G, C.SrcOff), F(Dst, G), C.Acc); });
    T.expect("copy " + C.Name, Dst);
  }
  for (bool Upper : {false, true})
    for (int64_t K : {-2, 0, 3}) {
      TriluDesc D;
      D.Batch = 3, D.Rows = 5, D.Cols = 7, D.K = K, D.Upper = Upper;
      Buf X = T.floats(normal(105, 1)), Y = T.floats(normal(105, 2)),
          YA = T.floats(normal(105, 3));
      T.both([&](Backend &B, bool G) {
        B.trilu(D, F(X, G), F(Y, G), false);
        B.trilu(D, F(X, G), F(YA, G), true);
      });
      std::string Name = std::string(Upper ? "triu" : "tril") + " k=" + std::to_string(K);
      T.expect(Name, Y);
      T.expect(Name + " (accumulated)", YA);
    }
  T.report();
}

TEST_CASE("cuda kernels: gathers and deterministic scatter-adds", "[cuda]") {
  Twin T;
  // Embedding-like (Outer 1) and inner-axis (Outer 3) gathers, indices
  // repeating so the scatter-add sums several rows into one.
  struct Case {
    int64_t Outer, AxisSize, Inner, Count;
  };
  for (Case C : {Case{1, 50, 64, 300}, Case{3, 10, 4, 12}, Case{2, 7, 1, 40}})
    for (bool Acc : {false, true}) {
      GatherDesc D;
      D.Outer = C.Outer, D.AxisSize = C.AxisSize, D.Inner = C.Inner, D.Count = C.Count;
      Rng R(C.Count);
      std::vector<int64_t> Idx(C.Count);
      for (int64_t &X : Idx)
        X = R.below(C.AxisSize / 2 + 1); // repeats, and rows never hit
      Buf BI = T.ints(Idx), X = T.floats(normal(C.Outer * C.AxisSize * C.Inner, 1));
      Buf Y = T.floats(std::vector<float>(C.Outer * C.Count * C.Inner));
      Buf DY = T.floats(normal(C.Outer * C.Count * C.Inner, 2, 1, 0.5));
      Buf DX = T.floats(normal(C.Outer * C.AxisSize * C.Inner, 3));
      T.both([&](Backend &B, bool G) {
        B.gather(D, F(X, G), I(BI, G), F(Y, G));
        B.gatherGrad(D, I(BI, G), F(DY, G), F(DX, G), Acc);
      });
      std::string Name = "gather " + std::to_string(C.Outer) + "x" +
                         std::to_string(C.AxisSize) + "x" + std::to_string(C.Inner) +
                         " by " + std::to_string(C.Count);
      // Same order of additions as the CPU: exactly equal.
      T.expect(Name, Y, 0);
      T.expect(Name + (Acc ? " scatter-add (accumulated)" : " scatter-add"), DX, 0);
    }
  for (bool Acc : {false, true}) {
    Rng R(9);
    std::vector<int64_t> Off(500);
    for (int64_t &X : Off)
      X = R.below(64);
    Buf BO = T.ints(Off), X = T.floats(normal(64, 1));
    Buf Y = T.floats(std::vector<float>(500)), DY = T.floats(normal(500, 2));
    Buf DX = T.floats(normal(64, 3));
    T.both([&](Backend &B, bool G) {
      B.gatherFlat(F(X, G), I(BO, G), F(Y, G), 500);
      B.gatherFlatGrad(I(BO, G), F(DY, G), F(DX, G), 500, 64, Acc);
    });
    T.expect("gatherFlat", Y, 0);
    T.expect(std::string("gatherFlat scatter-add") + (Acc ? " (accumulated)" : ""), DX, 0);
  }
  T.report();
}

TEST_CASE("cuda kernels: losses and optimizer steps", "[cuda]") {
  Twin T;
  for (int64_t Classes : {int64_t(10), int64_t(1000), int64_t(50257)})
    for (bool Grad : {false, true}) {
      int64_t Rows = Classes > 1000 ? 9 : 33;
      Rng R(Classes);
      std::vector<int64_t> Tg(Rows);
      for (int64_t &X : Tg)
        X = R.below(Classes);
      Buf L = T.floats(normal(Rows * Classes, 1, 3)), BT = T.ints(Tg);
      Buf RL = T.floats(std::vector<float>(Rows));
      Buf DL = T.floats(std::vector<float>(Rows * Classes));
      T.both([&](Backend &B, bool G) {
        B.crossEntropy(Rows, Classes, F(L, G), I(BT, G), F(RL, G),
                       Grad ? F(DL, G) : FPtr(), 1.0f / Rows);
      });
      std::string Name = "cross-entropy over " + std::to_string(Classes);
      T.expect(Name + " row losses", RL);
      if (Grad)
        T.expect(Name + " dlogits", DL);
    }
  for (bool Weighted : {false, true})
    for (bool Ignore : {false, true}) {
      NllDesc D;
      D.N = 4, D.C = 6, D.Inner = 3, D.HasIgnore = Ignore, D.IgnoreIndex = 2;
      Rng R(3);
      std::vector<int64_t> Tg(12);
      for (int64_t &X : Tg)
        X = R.below(6);
      Buf LP = T.floats(normal(72, 1)), BT = T.ints(Tg), Wt = T.floats(uniform(6, 2, 0.5, 2));
      Buf Loss = T.floats(std::vector<float>(12)), W = T.floats(std::vector<float>(12));
      Buf DL = T.floats(normal(12, 4)), DX = T.floats(normal(72, 5));
      T.both([&](Backend &B, bool G) {
        B.nll(D, F(LP, G), I(BT, G), Weighted ? F(Wt, G) : FPtr(), F(Loss, G), F(W, G));
        B.nllGrad(D, I(BT, G), F(W, G), F(DL, G), F(DX, G), Ignore);
      });
      std::string Name = std::string("nll") + (Weighted ? " weighted" : "") +
                         (Ignore ? " ignore_index" : "");
      T.expect(Name + " loss", Loss);
      T.expect(Name + " weights", W);
      T.expect(Name + " gradient", DX);
    }
  for (int64_t N : {int64_t(5), int64_t(20000)}) {
    Buf W = T.floats(normal(N, 1)), G = T.floats(normal(N, 2));
    T.expectScalar("sgd update norm",
                   T.Gpu->sgdUpdate(W.gpu<float>(), G.gpu<float>(), N, 0.01f),
                   T.Cpu->sgdUpdate(W.cpu<float>(), G.cpu<float>(), N, 0.01f));
    T.expect("sgd weights", W);
    Buf M = T.floats(normal(N, 3, 0.1)), V = T.floats(uniform(N, 4, 0, 0.1));
    for (unsigned Step : {1u, 2u, 10u}) {
      AdamParams P;
      P.Lr = 1e-3f, P.Step = Step;
      T.expectScalar("adam update norm, step " + std::to_string(Step),
                     T.Gpu->adamUpdate(W.gpu<float>(), G.gpu<float>(), M.gpu<float>(),
                                       V.gpu<float>(), N, P),
                     T.Cpu->adamUpdate(W.cpu<float>(), G.cpu<float>(), M.cpu<float>(),
                                       V.cpu<float>(), N, P),
                     1e-6);
      T.expect("adam weights", W);
      T.expect("adam first moments", M);
      T.expect("adam second moments", V);
    }
  }
  Buf Fl = T.floats(std::vector<float>(1000));
  T.both([&](Backend &B, bool G) { B.fill(F(Fl, G, 10), 900, -2.5f); });
  T.expect("fill", Fl, 0);
  T.report();
}
