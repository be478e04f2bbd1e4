//===- Elementwise.cu - unary and binary maps, forward and gradient -------===//
//
// Every map is defined once, as its value and its derivative (the same
// definitions as CPU/Elementwise.cpp, with CUDA's math functions); one
// templated kernel per shape of loop turns a definition into the forward or
// the gradient kernel. The plugin compiles with --fmad=false so a * b + c
// rounds as on the CPU (1 - y*y near y = 1 would otherwise differ).
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"
#include <cmath>

using namespace gradlint::probe;
using namespace gradlint::probe::cuda;

namespace {

/// A unary map: Fwd(x) and Deriv(x, y) = dy/dx.
template <typename F, typename D> struct UnaryDef {
  F Fwd;
  D Deriv;
};
template <typename F, typename D> UnaryDef<F, D> def(F Fwd, D Deriv) {
  return {Fwd, Deriv};
}

__device__ float sigmoidF(float X) { return 1.0f / (1.0f + expf(-X)); }
__device__ float softplusF(float X) {
  return X > 0 ? X + log1pf(expf(-X)) : log1pf(expf(X));
}

/// Rounds to the nearest float16 value (ties to even), kept in float32.
__device__ float roundHalf(float X) {
  if (!isfinite(X))
    return X;
  float A = fabsf(X);
  if (A >= 65520.0f)
    return copysignf(INFINITY, X);
  if (A < 6.103515625e-05f) // subnormal half: multiples of 2^-24
    return copysignf(rintf(A * 16777216.0f) / 16777216.0f, X);
  uint32_t Bits = __float_as_uint(X);
  uint32_t Lsb = (Bits >> 13) & 1;
  Bits += 0xfff + Lsb;
  Bits &= ~uint32_t(0x1fff);
  return __uint_as_float(Bits);
}

__device__ float roundBFloat16(float X) {
  if (isnan(X))
    return X;
  uint32_t Bits = __float_as_uint(X);
  uint32_t Lsb = (Bits >> 16) & 1;
  Bits += 0x7fff + Lsb;
  Bits &= 0xffff0000u;
  return __uint_as_float(Bits);
}

constexpr float InvSqrt2 = 0.70710678118654752f;
constexpr float InvSqrt2Pi = 0.39894228040143268f;
constexpr float SqrtTwoOverPi = 0.79788456080286536f;
constexpr float TwoOverSqrtPi = 1.12837916709551257f;

/// Calls Visit(def) with the definition of Op (as CPU/Elementwise.cpp).
template <typename Visitor>
void withUnary(UnaryOp Op, const UnaryParams &P, Visitor &&Visit) {
  const float A = P.Alpha, B = P.Beta, G = P.Gamma;
  switch (Op) {
  case UnaryOp::Identity:
    return Visit(def([] __device__(float X) { return X; },
                     [] __device__(float, float) { return 1.0f; }));
  case UnaryOp::Affine:
    return Visit(def([=] __device__(float X) { return A * X + B; },
                     [=] __device__(float, float) { return A; }));
  case UnaryOp::Neg:
    return Visit(def([] __device__(float X) { return -X; },
                     [] __device__(float, float) { return -1.0f; }));
  case UnaryOp::Abs:
    return Visit(def([] __device__(float X) { return fabsf(X); },
                     [] __device__(float X, float) {
                       return X > 0 ? 1.0f : X < 0 ? -1.0f : 0.0f;
                     }));
  case UnaryOp::Sqrt:
    return Visit(def([] __device__(float X) { return sqrtf(X); },
                     [] __device__(float, float Y) { return 0.5f / Y; }));
  case UnaryOp::Reciprocal:
    return Visit(def([] __device__(float X) { return 1.0f / X; },
                     [] __device__(float, float Y) { return -Y * Y; }));
  case UnaryOp::Exp:
    return Visit(def([] __device__(float X) { return expf(X); },
                     [] __device__(float, float Y) { return Y; }));
  case UnaryOp::Log:
    return Visit(def([] __device__(float X) { return logf(X); },
                     [] __device__(float X, float) { return 1.0f / X; }));
  case UnaryOp::Ceil:
    return Visit(def([] __device__(float X) { return ceilf(X); },
                     [] __device__(float, float) { return 0.0f; }));
  case UnaryOp::Floor:
    return Visit(def([] __device__(float X) { return floorf(X); },
                     [] __device__(float, float) { return 0.0f; }));
  case UnaryOp::Erf:
    return Visit(def([] __device__(float X) { return erff(X); },
                     [] __device__(float X, float) {
                       return TwoOverSqrtPi * expf(-X * X);
                     }));
  case UnaryOp::Tanh:
    return Visit(def([] __device__(float X) { return tanhf(X); },
                     [] __device__(float, float Y) { return 1.0f - Y * Y; }));
  case UnaryOp::Sigmoid:
    return Visit(def([] __device__(float X) { return sigmoidF(X); },
                     [] __device__(float, float Y) { return Y * (1.0f - Y); }));
  case UnaryOp::Relu:
    return Visit(def([] __device__(float X) { return X > 0 ? X : 0.0f; },
                     [] __device__(float, float Y) { return Y > 0 ? 1.0f : 0.0f; }));
  case UnaryOp::LeakyRelu:
    return Visit(def([=] __device__(float X) { return X >= 0 ? X : A * X; },
                     [=] __device__(float X, float) { return X > 0 ? 1.0f : A; }));
  case UnaryOp::Elu:
    return Visit(def([=] __device__(float X) { return X > 0 ? X : A * expm1f(X); },
                     [=] __device__(float X, float) {
                       return X > 0 ? 1.0f : A * expf(X);
                     }));
  case UnaryOp::Selu:
    return Visit(def([=] __device__(float X) {
                       return G * (X > 0 ? X : A * expm1f(X));
                     },
                     [=] __device__(float X, float) {
                       return G * (X > 0 ? 1.0f : A * expf(X));
                     }));
  case UnaryOp::Softplus:
    return Visit(def([] __device__(float X) { return softplusF(X); },
                     [] __device__(float X, float) { return sigmoidF(X); }));
  case UnaryOp::Mish:
    return Visit(def([] __device__(float X) { return X * tanhf(softplusF(X)); },
                     [] __device__(float X, float) {
                       float T = tanhf(softplusF(X));
                       return T + X * sigmoidF(X) * (1.0f - T * T);
                     }));
  case UnaryOp::HardSigmoid:
    return Visit(def([=] __device__(float X) {
                       return fmaxf(0.0f, fminf(1.0f, A * X + B));
                     },
                     [=] __device__(float X, float) {
                       float V = A * X + B;
                       return V > 0 && V < 1 ? A : 0.0f;
                     }));
  case UnaryOp::Clip:
    return Visit(def([=] __device__(float X) { return fminf(fmaxf(X, A), B); },
                     [=] __device__(float X, float) {
                       return X >= A && X <= B ? 1.0f : 0.0f;
                     }));
  case UnaryOp::Gelu:
    return Visit(def([] __device__(float X) {
                       return 0.5f * X * (1.0f + erff(X * InvSqrt2));
                     },
                     [] __device__(float X, float) {
                       return 0.5f * (1.0f + erff(X * InvSqrt2)) +
                              X * InvSqrt2Pi * expf(-0.5f * X * X);
                     }));
  case UnaryOp::GeluTanh:
    return Visit(def(
        [] __device__(float X) {
          float U = SqrtTwoOverPi * (X + 0.044715f * X * X * X);
          return 0.5f * X * (1.0f + tanhf(U));
        },
        [] __device__(float X, float) {
          float U = SqrtTwoOverPi * (X + 0.044715f * X * X * X);
          float T = tanhf(U);
          return 0.5f * (1.0f + T) + 0.5f * X * (1.0f - T * T) * SqrtTwoOverPi *
                                         (1.0f + 3.0f * 0.044715f * X * X);
        }));
  case UnaryOp::QuickGelu:
    return Visit(def([=] __device__(float X) { return X * sigmoidF(A * X); },
                     [=] __device__(float X, float) {
                       float S = sigmoidF(A * X);
                       return S + A * X * S * (1.0f - S);
                     }));
  case UnaryOp::Softcap:
    return Visit(def([=] __device__(float X) { return A * tanhf(X / A); },
                     [=] __device__(float, float Y) {
                       return 1.0f - (Y / A) * (Y / A);
                     }));
  case UnaryOp::RoundHalf:
    return Visit(def([] __device__(float X) { return roundHalf(X); },
                     [] __device__(float, float) { return 1.0f; }));
  case UnaryOp::RoundBFloat16:
    return Visit(def([] __device__(float X) { return roundBFloat16(X); },
                     [] __device__(float, float) { return 1.0f; }));
  }
}

/// A binary map: Fwd(a, b), and the partials given a, b and y.
template <typename F, typename DA, typename DB> struct BinaryDef {
  F Fwd;
  DA DerivA;
  DB DerivB;
};
template <typename F, typename DA, typename DB>
BinaryDef<F, DA, DB> def2(F Fwd, DA DerivA, DB DerivB) {
  return {Fwd, DerivA, DerivB};
}

template <typename Visitor> void withBinary(BinaryOp Op, Visitor &&Visit) {
  switch (Op) {
  case BinaryOp::Add:
    return Visit(def2([] __device__(float A, float B) { return A + B; },
                      [] __device__(float, float, float) { return 1.0f; },
                      [] __device__(float, float, float) { return 1.0f; }));
  case BinaryOp::Sub:
    return Visit(def2([] __device__(float A, float B) { return A - B; },
                      [] __device__(float, float, float) { return 1.0f; },
                      [] __device__(float, float, float) { return -1.0f; }));
  case BinaryOp::Mul:
    return Visit(def2([] __device__(float A, float B) { return A * B; },
                      [] __device__(float, float B, float) { return B; },
                      [] __device__(float A, float, float) { return A; }));
  case BinaryOp::Div:
    return Visit(def2([] __device__(float A, float B) { return A / B; },
                      [] __device__(float, float B, float) { return 1.0f / B; },
                      [] __device__(float A, float B, float) {
                        return -A / (B * B);
                      }));
  case BinaryOp::Pow:
    // As torch: no exponent gradient where the base is 0 and the exponent >= 0.
    return Visit(def2([] __device__(float A, float B) { return powf(A, B); },
                      [] __device__(float A, float B, float) {
                        return B == 0 ? 0.0f : B * powf(A, B - 1.0f);
                      },
                      [] __device__(float A, float B, float Y) {
                        return A == 0 && B >= 0 ? 0.0f : Y * logf(A);
                      }));
  case BinaryOp::Max:
    // Ties split the gradient evenly, as torch.maximum does.
    return Visit(def2([] __device__(float A, float B) { return fmaxf(A, B); },
                      [] __device__(float A, float B, float) {
                        return A > B ? 1.0f : A == B ? 0.5f : 0.0f;
                      },
                      [] __device__(float A, float B, float) {
                        return B > A ? 1.0f : A == B ? 0.5f : 0.0f;
                      }));
  case BinaryOp::Min:
    return Visit(def2([] __device__(float A, float B) { return fminf(A, B); },
                      [] __device__(float A, float B, float) {
                        return A < B ? 1.0f : A == B ? 0.5f : 0.0f;
                      },
                      [] __device__(float A, float B, float) {
                        return B < A ? 1.0f : A == B ? 0.5f : 0.0f;
                      }));
  case BinaryOp::Mod:
    return Visit(def2([] __device__(float A, float B) { return fmodf(A, B); },
                      [] __device__(float, float, float) { return 1.0f; },
                      [] __device__(float A, float B, float) {
                        return -truncf(A / B);
                      }));
  }
}

//===--- Kernels: one per shape of loop -----------------------------------===//

template <typename Def>
__global__ void unaryKernel(Def D, const float *X, float *Y, int64_t N) {
  GL_GRID_LOOP(I, N) Y[I] = D.Fwd(X[I]);
}

template <typename Def>
__global__ void unaryGradKernel(Def D, const float *X, const float *Y,
                                const float *DY, float *DX, int64_t N, bool Acc) {
  GL_GRID_LOOP(I, N) {
    float G = D.Deriv(X ? X[I] : 0.0f, Y ? Y[I] : 0.0f) * DY[I];
    store(DX + I, G, Acc);
  }
}

/// Index type for the strided kernels: 32-bit division where it fits.
template <typename Index, typename Def>
__global__ void binaryKernel(Def D, Strided<2> S, int64_t N, const float *A,
                             const float *B, float *Y) {
  GL_GRID_LOOP(I, N) {
    int64_t Off[2];
    S.offsets(static_cast<Index>(I), Off);
    Y[I] = D.Fwd(A[Off[0]], B[Off[1]]);
  }
}

template <typename Index, typename Def>
__global__ void binaryGradKernel(Def D, Strided<2> S, int64_t N,
                                 const float *A, const float *B, const float *Y,
                                 const float *DY, float *GA, bool AccA,
                                 float *GB, bool AccB) {
  GL_GRID_LOOP(I, N) {
    int64_t Off[2];
    S.offsets(static_cast<Index>(I), Off);
    float XA = A[Off[0]], XB = B[Off[1]];
    float YV = Y ? Y[I] : 0.0f, G = DY[I];
    if (GA)
      store(GA + I, D.DerivA(XA, XB, YV) * G, AccA);
    if (GB)
      store(GB + I, D.DerivB(XA, XB, YV) * G, AccB);
  }
}

template <typename Index>
__global__ void whereKernel(Strided<3> S, int64_t N, const uint8_t *C,
                            const float *A, const float *B, float *Y) {
  GL_GRID_LOOP(I, N) {
    int64_t Off[3];
    S.offsets(static_cast<Index>(I), Off);
    Y[I] = C[Off[0]] ? A[Off[1]] : B[Off[2]];
  }
}

template <typename Index>
__global__ void whereGradKernel(Strided<1> S, int64_t N, const uint8_t *C,
                                const float *DY, float *GA, bool AccA,
                                float *GB, bool AccB) {
  GL_GRID_LOOP(I, N) {
    int64_t Off[1];
    S.offsets(static_cast<Index>(I), Off);
    bool Take = C[Off[0]];
    float G = DY[I];
    if (GA)
      store(GA + I, Take ? G : 0.0f, AccA);
    if (GB)
      store(GB + I, Take ? 0.0f : G, AccB);
  }
}

template <unsigned K> Strided<K> strided(const BroadcastDesc &D) {
  Strided<K> S;
  S.Rank = static_cast<int>(D.Rank);
  for (unsigned I = 0; I != D.Rank; ++I) {
    S.Shape[I] = D.Shape[I];
    for (unsigned Op = 0; Op != K; ++Op)
      S.Stride[Op][I] = D.Stride[Op][I];
  }
  S.coalesce();
  return S;
}

bool fits32(int64_t N) { return N < (int64_t(1) << 31); }

// Launchers: named (not local) types, as extended lambdas require.
struct UnaryLaunch {
  CUDABackend &B;
  const float *X;
  float *Y;
  int64_t N;
  template <typename Def> void operator()(Def D) const {
    launch(B, "unary", unaryKernel<Def>, dim3(gridFor(N)), dim3(BlockThreads),
           0, D, X, Y, N);
  }
};

struct UnaryGradLaunch {
  CUDABackend &B;
  const float *X, *Y, *DY;
  float *DX;
  int64_t N;
  bool Acc;
  template <typename Def> void operator()(Def D) const {
    launch(B, "unaryGrad", unaryGradKernel<Def>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, D, X, Y, DY, DX, N, Acc);
  }
};

struct BinaryLaunch {
  CUDABackend &B;
  const Strided<2> &S;
  const float *A, *BV;
  float *Y;
  template <typename Def> void operator()(Def D) const {
    int64_t N = S.count();
    if (fits32(N))
      launch(B, "binary", binaryKernel<uint32_t, Def>, dim3(gridFor(N)),
             dim3(BlockThreads), 0, D, S, N, A, BV, Y);
    else
      launch(B, "binary", binaryKernel<int64_t, Def>, dim3(gridFor(N)),
             dim3(BlockThreads), 0, D, S, N, A, BV, Y);
  }
};

struct BinaryGradLaunch {
  CUDABackend &B;
  const Strided<2> &S;
  const float *A, *BV, *Y, *DY;
  float *GA;
  bool AccA;
  float *GB;
  bool AccB;
  template <typename Def> void operator()(Def D) const {
    int64_t N = S.count();
    if (fits32(N))
      launch(B, "binaryGrad", binaryGradKernel<uint32_t, Def>, dim3(gridFor(N)),
             dim3(BlockThreads), 0, D, S, N, A, BV, Y, DY, GA, AccA, GB, AccB);
    else
      launch(B, "binaryGrad", binaryGradKernel<int64_t, Def>, dim3(gridFor(N)),
             dim3(BlockThreads), 0, D, S, N, A, BV, Y, DY, GA, AccA, GB, AccB);
  }
};

template <typename T> T *orNull(DevPtr<T> P) { return P ? at(P) : nullptr; }

} // namespace

void CUDABackend::unary(UnaryOp Op, const UnaryParams &P, FPtr X, FPtr Y,
                        int64_t N) {
  withUnary(Op, P, UnaryLaunch{*this, at(X), at(Y), N});
}

void CUDABackend::unaryGrad(UnaryOp Op, const UnaryParams &P, FPtr X, FPtr Y,
                            FPtr DY, FPtr DX, int64_t N, bool Acc) {
  withUnary(Op, P,
            UnaryGradLaunch{*this, orNull(X), orNull(Y), at(DY), at(DX), N, Acc});
}

void CUDABackend::binary(BinaryOp Op, const BroadcastDesc &D, FPtr A, FPtr B,
                         FPtr Y) {
  Strided<2> S = strided<2>(D);
  withBinary(Op, BinaryLaunch{*this, S, at(A), at(B), at(Y)});
}

void CUDABackend::binaryGrad(BinaryOp Op, const BroadcastDesc &D, FPtr A,
                             FPtr B, FPtr Y, FPtr DY, FPtr GA, bool AccA,
                             FPtr GB, bool AccB) {
  Strided<2> S = strided<2>(D);
  withBinary(Op, BinaryGradLaunch{*this, S, at(A), at(B), orNull(Y), at(DY),
                                  orNull(GA), AccA, orNull(GB), AccB});
}

void CUDABackend::where(const BroadcastDesc &D, MPtr Cond, FPtr A, FPtr B,
                        FPtr Y) {
  Strided<3> S = strided<3>(D);
  int64_t N = S.count();
  if (fits32(N))
    launch(*this, "where", whereKernel<uint32_t>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, S, N, at(Cond), at(A), at(B), at(Y));
  else
    launch(*this, "where", whereKernel<int64_t>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, S, N, at(Cond), at(A), at(B), at(Y));
}

void CUDABackend::whereGrad(const BroadcastDesc &D, MPtr Cond, FPtr DY,
                            FPtr GA, bool AccA, FPtr GB, bool AccB) {
  Strided<1> S = strided<1>(D);
  int64_t N = S.count();
  if (fits32(N))
    launch(*this, "whereGrad", whereGradKernel<uint32_t>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, S, N, at(Cond), at(DY), orNull(GA), AccA,
           orNull(GB), AccB);
  else
    launch(*this, "whereGrad", whereGradKernel<int64_t>, dim3(gridFor(N)),
           dim3(BlockThreads), 0, S, N, at(Cond), at(DY), orNull(GA), AccA,
           orNull(GB), AccB);
}
