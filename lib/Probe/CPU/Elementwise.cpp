//===- Elementwise.cpp - unary and binary maps, forward and gradient ------===//
//
// Every map is defined once, as its value and its derivative; unaryKernel /
// binaryKernel turn that definition into the forward loop and the gradient
// loop (JAX's defjvp, PyTorch's auto_element_wise).
//
//===----------------------------------------------------------------------===//
#include "CPUBackend.h"
#include "Strided.h"
#include <cmath>
#include <cstring>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::probe::cpu;

namespace {

/// A unary map: Fwd(x) and Deriv(x, y) = dy/dx.
template <typename F, typename D> struct UnaryDef {
  F Fwd;
  D Deriv;
};
template <typename F, typename D> UnaryDef<F, D> def(F Fwd, D Deriv) {
  return {Fwd, Deriv};
}

float sigmoid(float X) { return 1.0f / (1.0f + std::exp(-X)); }
float softplus(float X) {
  return X > 0 ? X + std::log1p(std::exp(-X)) : std::log1p(std::exp(X));
}

/// Rounds to the nearest float16 value (ties to even), kept in float32.
float roundHalf(float X) {
  if (!std::isfinite(X))
    return X;
  float A = std::fabs(X);
  if (A >= 65520.0f)
    return std::copysign(INFINITY, X);
  if (A < 6.103515625e-05f) { // subnormal half: multiples of 2^-24
    float Q = std::nearbyint(A * 16777216.0f) / 16777216.0f;
    return std::copysign(Q, X);
  }
  uint32_t Bits;
  std::memcpy(&Bits, &X, 4);
  uint32_t Lsb = (Bits >> 13) & 1;
  Bits += 0xfff + Lsb;
  Bits &= ~uint32_t(0x1fff);
  float R;
  std::memcpy(&R, &Bits, 4);
  return R;
}

float roundBFloat16(float X) {
  if (std::isnan(X))
    return X;
  uint32_t Bits;
  std::memcpy(&Bits, &X, 4);
  uint32_t Lsb = (Bits >> 16) & 1;
  Bits += 0x7fff + Lsb;
  Bits &= 0xffff0000u;
  float R;
  std::memcpy(&R, &Bits, 4);
  return R;
}

constexpr float InvSqrt2 = 0.70710678118654752f;
constexpr float InvSqrt2Pi = 0.39894228040143268f;
constexpr float SqrtTwoOverPi = 0.79788456080286536f;
constexpr float TwoOverSqrtPi = 1.12837916709551257f;

/// Calls Visit(def) with the definition of Op; the derivative's arguments
/// are x and y (either may be a dummy where unaryNeeds says it is unused).
template <typename Visitor>
void withUnary(UnaryOp Op, const UnaryParams &P, Visitor &&Visit) {
  const float A = P.Alpha, B = P.Beta, G = P.Gamma;
  switch (Op) {
  case UnaryOp::Identity:
    return Visit(def([](float X) { return X; }, [](float, float) { return 1.0f; }));
  case UnaryOp::Affine:
    return Visit(def([=](float X) { return A * X + B; },
                     [=](float, float) { return A; }));
  case UnaryOp::Neg:
    return Visit(def([](float X) { return -X; }, [](float, float) { return -1.0f; }));
  case UnaryOp::Abs:
    return Visit(def([](float X) { return std::fabs(X); },
                     [](float X, float) { return X > 0 ? 1.0f : X < 0 ? -1.0f : 0.0f; }));
  case UnaryOp::Sqrt:
    return Visit(def([](float X) { return std::sqrt(X); },
                     [](float, float Y) { return 0.5f / Y; }));
  case UnaryOp::Reciprocal:
    return Visit(def([](float X) { return 1.0f / X; },
                     [](float, float Y) { return -Y * Y; }));
  case UnaryOp::Exp:
    return Visit(def([](float X) { return std::exp(X); },
                     [](float, float Y) { return Y; }));
  case UnaryOp::Log:
    return Visit(def([](float X) { return std::log(X); },
                     [](float X, float) { return 1.0f / X; }));
  case UnaryOp::Ceil:
    return Visit(def([](float X) { return std::ceil(X); },
                     [](float, float) { return 0.0f; }));
  case UnaryOp::Floor:
    return Visit(def([](float X) { return std::floor(X); },
                     [](float, float) { return 0.0f; }));
  case UnaryOp::Erf:
    return Visit(def([](float X) { return std::erf(X); },
                     [](float X, float) { return TwoOverSqrtPi * std::exp(-X * X); }));
  case UnaryOp::Tanh:
    return Visit(def([](float X) { return std::tanh(X); },
                     [](float, float Y) { return 1.0f - Y * Y; }));
  case UnaryOp::Sigmoid:
    return Visit(def([](float X) { return sigmoid(X); },
                     [](float, float Y) { return Y * (1.0f - Y); }));
  case UnaryOp::Relu:
    return Visit(def([](float X) { return X > 0 ? X : 0.0f; },
                     [](float, float Y) { return Y > 0 ? 1.0f : 0.0f; }));
  case UnaryOp::LeakyRelu:
    return Visit(def([=](float X) { return X >= 0 ? X : A * X; },
                     [=](float X, float) { return X > 0 ? 1.0f : A; }));
  case UnaryOp::Elu:
    return Visit(def([=](float X) { return X > 0 ? X : A * std::expm1(X); },
                     [=](float X, float) { return X > 0 ? 1.0f : A * std::exp(X); }));
  case UnaryOp::Selu:
    return Visit(def([=](float X) { return G * (X > 0 ? X : A * std::expm1(X)); },
                     [=](float X, float) { return G * (X > 0 ? 1.0f : A * std::exp(X)); }));
  case UnaryOp::Softplus:
    return Visit(def([](float X) { return softplus(X); },
                     [](float X, float) { return sigmoid(X); }));
  case UnaryOp::Mish:
    return Visit(def([](float X) { return X * std::tanh(softplus(X)); },
                     [](float X, float) {
                       float T = std::tanh(softplus(X));
                       return T + X * sigmoid(X) * (1.0f - T * T);
                     }));
  case UnaryOp::HardSigmoid:
    return Visit(def([=](float X) { return std::fmax(0.0f, std::fmin(1.0f, A * X + B)); },
                     [=](float X, float) {
                       float V = A * X + B;
                       return V > 0 && V < 1 ? A : 0.0f;
                     }));
  case UnaryOp::Clip:
    return Visit(def([=](float X) { return std::fmin(std::fmax(X, A), B); },
                     [=](float X, float) { return X >= A && X <= B ? 1.0f : 0.0f; }));
  case UnaryOp::Gelu:
    return Visit(def([](float X) { return 0.5f * X * (1.0f + std::erf(X * InvSqrt2)); },
                     [](float X, float) {
                       return 0.5f * (1.0f + std::erf(X * InvSqrt2)) +
                              X * InvSqrt2Pi * std::exp(-0.5f * X * X);
                     }));
  case UnaryOp::GeluTanh:
    return Visit(def(
        [](float X) {
          float U = SqrtTwoOverPi * (X + 0.044715f * X * X * X);
          return 0.5f * X * (1.0f + std::tanh(U));
        },
        [](float X, float) {
          float U = SqrtTwoOverPi * (X + 0.044715f * X * X * X);
          float T = std::tanh(U);
          return 0.5f * (1.0f + T) + 0.5f * X * (1.0f - T * T) * SqrtTwoOverPi *
                                         (1.0f + 3.0f * 0.044715f * X * X);
        }));
  case UnaryOp::QuickGelu:
    return Visit(def([=](float X) { return X * sigmoid(A * X); },
                     [=](float X, float) {
                       float S = sigmoid(A * X);
                       return S + A * X * S * (1.0f - S);
                     }));
  case UnaryOp::Softcap:
    return Visit(def([=](float X) { return A * std::tanh(X / A); },
                     [=](float, float Y) { return 1.0f - (Y / A) * (Y / A); }));
  case UnaryOp::RoundHalf:
    return Visit(def([](float X) { return roundHalf(X); },
                     [](float, float) { return 1.0f; }));
  case UnaryOp::RoundBFloat16:
    return Visit(def([](float X) { return roundBFloat16(X); },
                     [](float, float) { return 1.0f; }));
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
    return Visit(def2([](float A, float B) { return A + B; },
                      [](float, float, float) { return 1.0f; },
                      [](float, float, float) { return 1.0f; }));
  case BinaryOp::Sub:
    return Visit(def2([](float A, float B) { return A - B; },
                      [](float, float, float) { return 1.0f; },
                      [](float, float, float) { return -1.0f; }));
  case BinaryOp::Mul:
    return Visit(def2([](float A, float B) { return A * B; },
                      [](float, float B, float) { return B; },
                      [](float A, float, float) { return A; }));
  case BinaryOp::Div:
    return Visit(def2([](float A, float B) { return A / B; },
                      [](float, float B, float) { return 1.0f / B; },
                      [](float A, float B, float) { return -A / (B * B); }));
  case BinaryOp::Pow:
    // As torch: no exponent gradient where the base is 0 and the exponent >= 0.
    return Visit(def2([](float A, float B) { return std::pow(A, B); },
                      [](float A, float B, float) {
                        return B == 0 ? 0.0f : B * std::pow(A, B - 1.0f);
                      },
                      [](float A, float B, float Y) {
                        return A == 0 && B >= 0 ? 0.0f : Y * std::log(A);
                      }));
  case BinaryOp::Max:
    // Ties split the gradient evenly, as torch.maximum does.
    return Visit(def2([](float A, float B) { return std::fmax(A, B); },
                      [](float A, float B, float) { return A > B ? 1.0f : A == B ? 0.5f : 0.0f; },
                      [](float A, float B, float) { return B > A ? 1.0f : A == B ? 0.5f : 0.0f; }));
  case BinaryOp::Min:
    return Visit(def2([](float A, float B) { return std::fmin(A, B); },
                      [](float A, float B, float) { return A < B ? 1.0f : A == B ? 0.5f : 0.0f; },
                      [](float A, float B, float) { return B < A ? 1.0f : A == B ? 0.5f : 0.0f; }));
  case BinaryOp::Mod:
    return Visit(def2([](float A, float B) { return std::fmod(A, B); },
                      [](float, float, float) { return 1.0f; },
                      [](float A, float B, float) { return -std::trunc(A / B); }));
  }
}

} // namespace

void CPUBackend::unary(UnaryOp Op, const UnaryParams &P, FPtr XP, FPtr YP,
                       int64_t N) {
  const float *X = at(XP);
  float *Y = at(YP);
  withUnary(Op, P, [&](auto Def) {
    Par.forRange(N, ElementGrain, [&](int64_t B, int64_t E) {
      for (int64_t I = B; I < E; ++I)
        Y[I] = Def.Fwd(X[I]);
    });
  });
}

void CPUBackend::unaryGrad(UnaryOp Op, const UnaryParams &P, FPtr XP, FPtr YP,
                           FPtr DYP, FPtr DXP, int64_t N, bool Acc) {
  const float *X = XP ? at(XP) : nullptr;
  const float *Y = YP ? at(YP) : nullptr;
  const float *DY = at(DYP);
  float *DX = at(DXP);
  withUnary(Op, P, [&](auto Def) {
    Par.forRange(N, ElementGrain, [&](int64_t B, int64_t E) {
      for (int64_t I = B; I < E; ++I) {
        float D = Def.Deriv(X ? X[I] : 0.0f, Y ? Y[I] : 0.0f) * DY[I];
        DX[I] = Acc ? DX[I] + D : D;
      }
    });
  });
}

void CPUBackend::binary(BinaryOp Op, const BroadcastDesc &D, FPtr AP, FPtr BP,
                        FPtr YP) {
  const float *A = at(AP), *B = at(BP);
  float *Y = at(YP);
  RowWalker<2> W{D.Rank, D.Shape, {D.Stride[0], D.Stride[1]}};
  int64_t Len = W.rowLength();
  int64_t SA = W.innerStride(0), SB = W.innerStride(1);
  withBinary(Op, [&](auto Def) {
    Par.forRange(W.rows(), std::max<int64_t>(1, ElementGrain / std::max<int64_t>(Len, 1)),
                 [&](int64_t Begin, int64_t End) {
      W.walk(Begin, End, [&](int64_t Row, const std::array<int64_t, 2> &Off) {
        const float *PA = A + Off[0], *PB = B + Off[1];
        float *PY = Y + Row * Len;
        if (SA == 1 && SB == 1)
          for (int64_t I = 0; I < Len; ++I)
            PY[I] = Def.Fwd(PA[I], PB[I]);
        else if (SA == 1 && SB == 0)
          for (int64_t I = 0; I < Len; ++I)
            PY[I] = Def.Fwd(PA[I], PB[0]);
        else if (SA == 0 && SB == 1)
          for (int64_t I = 0; I < Len; ++I)
            PY[I] = Def.Fwd(PA[0], PB[I]);
        else
          for (int64_t I = 0; I < Len; ++I)
            PY[I] = Def.Fwd(PA[I * SA], PB[I * SB]);
      });
    });
  });
}

void CPUBackend::binaryGrad(BinaryOp Op, const BroadcastDesc &D, FPtr AP,
                            FPtr BP, FPtr YP, FPtr DYP, FPtr GAP, bool AccA,
                            FPtr GBP, bool AccB) {
  const float *A = at(AP), *B = at(BP), *DY = at(DYP);
  const float *Y = YP ? at(YP) : nullptr;
  float *GA = GAP ? at(GAP) : nullptr, *GB = GBP ? at(GBP) : nullptr;
  RowWalker<2> W{D.Rank, D.Shape, {D.Stride[0], D.Stride[1]}};
  int64_t Len = W.rowLength();
  int64_t SA = W.innerStride(0), SB = W.innerStride(1);
  withBinary(Op, [&](auto Def) {
    Par.forRange(W.rows(), std::max<int64_t>(1, ElementGrain / std::max<int64_t>(Len, 1)),
                 [&](int64_t Begin, int64_t End) {
      W.walk(Begin, End, [&](int64_t Row, const std::array<int64_t, 2> &Off) {
        const float *PA = A + Off[0], *PB = B + Off[1];
        int64_t Base = Row * Len;
        for (int64_t I = 0; I < Len; ++I) {
          float XA = PA[I * SA], XB = PB[I * SB];
          float YV = Y ? Y[Base + I] : 0.0f, G = DY[Base + I];
          if (GA)
            store(GA + Base + I, Def.DerivA(XA, XB, YV) * G, AccA);
          if (GB)
            store(GB + Base + I, Def.DerivB(XA, XB, YV) * G, AccB);
        }
      });
    });
  });
}

void CPUBackend::where(const BroadcastDesc &D, MPtr CP, FPtr AP, FPtr BP,
                       FPtr YP) {
  const uint8_t *C = at(CP);
  const float *A = at(AP), *B = at(BP);
  float *Y = at(YP);
  RowWalker<3> W{D.Rank, D.Shape, {D.Stride[0], D.Stride[1], D.Stride[2]}};
  int64_t Len = W.rowLength();
  int64_t SC = W.innerStride(0), SA = W.innerStride(1), SB = W.innerStride(2);
  Par.forRange(W.rows(), std::max<int64_t>(1, ElementGrain / std::max<int64_t>(Len, 1)),
               [&](int64_t Begin, int64_t End) {
    W.walk(Begin, End, [&](int64_t Row, const std::array<int64_t, 3> &Off) {
      float *PY = Y + Row * Len;
      for (int64_t I = 0; I < Len; ++I)
        PY[I] = C[Off[0] + I * SC] ? A[Off[1] + I * SA] : B[Off[2] + I * SB];
    });
  });
}

void CPUBackend::whereGrad(const BroadcastDesc &D, MPtr CP, FPtr DYP, FPtr GAP,
                           bool AccA, FPtr GBP, bool AccB) {
  const uint8_t *C = at(CP);
  const float *DY = at(DYP);
  float *GA = GAP ? at(GAP) : nullptr, *GB = GBP ? at(GBP) : nullptr;
  RowWalker<1> W{D.Rank, D.Shape, {D.Stride[0]}};
  int64_t Len = W.rowLength(), SC = W.innerStride(0);
  Par.forRange(W.rows(), std::max<int64_t>(1, ElementGrain / std::max<int64_t>(Len, 1)),
               [&](int64_t Begin, int64_t End) {
    W.walk(Begin, End, [&](int64_t Row, const std::array<int64_t, 1> &Off) {
      int64_t Base = Row * Len;
      for (int64_t I = 0; I < Len; ++I) {
        bool Take = C[Off[0] + I * SC];
        float G = DY[Base + I];
        if (GA)
          store(GA + Base + I, Take ? G : 0.0f, AccA);
        if (GB)
          store(GB + Base + I, Take ? 0.0f : G, AccB);
      }
    });
  });
}
