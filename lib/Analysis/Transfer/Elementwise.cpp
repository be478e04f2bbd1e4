//===- Elementwise.cpp - unary maps, broadcasting arithmetic, masks -------===//
//
// A unary f gives its value and derivative; everything else — moments under
// a Gaussian input (Gauss–Hermite), intervals, gradient energies — follows
// from one helper. Chains of elementwise ops on one source (x·sigmoid(x),
// x·½(1+erf(x/√2)), Pow→ReduceMean inputs) are tabulated at the source's
// quadrature nodes and differentiated as a whole, so their correlations are
// exact under the Gaussian assumption.
//
//===----------------------------------------------------------------------===//
#include "../Analyzer.h"
#include <algorithm>
#include <functional>
#include <optional>

using namespace gradlint;
using namespace gradlint::analysis;

namespace {

/// Value and derivative of a unary map at x.
struct Unary {
  std::function<double(double)> F, D;
};

double sigmoid(double X) { return 1.0 / (1.0 + std::exp(-X)); }

double geluErf(double X) { return 0.5 * X * (1 + std::erf(X / M_SQRT2)); }
double geluErfD(double X) {
  return 0.5 * (1 + std::erf(X / M_SQRT2)) + X * std::exp(-0.5 * X * X) / std::sqrt(2 * M_PI);
}
double geluTanh(double X) {
  double U = std::sqrt(2 / M_PI) * (X + 0.044715 * X * X * X);
  return 0.5 * X * (1 + std::tanh(U));
}
double geluTanhD(double X) {
  double U = std::sqrt(2 / M_PI) * (X + 0.044715 * X * X * X);
  double T = std::tanh(U);
  double DU = std::sqrt(2 / M_PI) * (1 + 3 * 0.044715 * X * X);
  return 0.5 * (1 + T) + 0.5 * X * (1 - T * T) * DU;
}

/// A scalar constant input, if the node has one at index I.
std::optional<double> scalarConst(const Analyzer &A, const Node &N, unsigned I) {
  ValueId V = N.input(I);
  if (V == NoId || !A.val(V).Const || A.val(V).Const->size() != 1)
    return std::nullopt;
  return A.val(V).Const->real(0);
}

/// The unary map a node computes of its first input; nullopt when the op is
/// not a map of one input with constant parameters.
std::optional<Unary> unaryOf(const Analyzer &A, const Node &N) {
  switch (N.Kind) {
  case OpKind::Sqrt:
    return Unary{[](double X) { return std::sqrt(std::max(X, 1e-30)); },
                 [](double X) { return 0.5 / std::sqrt(std::max(X, 1e-30)); }};
  case OpKind::Reciprocal:
    return Unary{[](double X) { return 1.0 / (std::fabs(X) < 1e-30 ? 1e-30 : X); },
                 [](double X) { double Y = std::max(X * X, 1e-60); return -1.0 / Y; }};
  case OpKind::Neg:
    return Unary{[](double X) { return -X; }, [](double) { return -1.0; }};
  case OpKind::Exp:
    return Unary{[](double X) { return std::exp(std::min(X, 700.0)); },
                 [](double X) { return std::exp(std::min(X, 700.0)); }};
  case OpKind::Log:
    return Unary{[](double X) { return std::log(std::max(X, 1e-30)); },
                 [](double X) { return 1.0 / std::max(X, 1e-30); }};
  case OpKind::Abs:
    return Unary{[](double X) { return std::fabs(X); },
                 [](double X) { return X < 0 ? -1.0 : 1.0; }};
  case OpKind::Ceil:
    return Unary{[](double X) { return std::ceil(X); }, [](double) { return 0.0; }};
  case OpKind::Floor:
    return Unary{[](double X) { return std::floor(X); }, [](double) { return 0.0; }};
  case OpKind::Erf:
    return Unary{[](double X) { return std::erf(X); },
                 [](double X) { return 2 / std::sqrt(M_PI) * std::exp(-X * X); }};
  case OpKind::Tanh:
    return Unary{[](double X) { return std::tanh(X); },
                 [](double X) { double T = std::tanh(X); return 1 - T * T; }};
  case OpKind::Sigmoid:
    return Unary{sigmoid, [](double X) { double S = sigmoid(X); return S * (1 - S); }};
  case OpKind::Relu:
    return Unary{[](double X) { return X > 0 ? X : 0.0; },
                 [](double X) { return X > 0 ? 1.0 : 0.0; }};
  case OpKind::LeakyRelu: {
    double Al = N.getFloat("alpha", 0.01f);
    return Unary{[Al](double X) { return X > 0 ? X : Al * X; },
                 [Al](double X) { return X > 0 ? 1.0 : Al; }};
  }
  case OpKind::Elu: {
    double Al = N.getFloat("alpha", 1.0f);
    return Unary{[Al](double X) { return X > 0 ? X : Al * (std::exp(X) - 1); },
                 [Al](double X) { return X > 0 ? 1.0 : Al * std::exp(X); }};
  }
  case OpKind::Selu: {
    double Al = N.getFloat("alpha", 1.67326319217681884765625f);
    double Ga = N.getFloat("gamma", 1.05070102214813232421875f);
    return Unary{[Al, Ga](double X) { return Ga * (X > 0 ? X : Al * (std::exp(X) - 1)); },
                 [Al, Ga](double X) { return Ga * (X > 0 ? 1.0 : Al * std::exp(X)); }};
  }
  case OpKind::Softplus:
    return Unary{[](double X) { return X > 30 ? X : std::log1p(std::exp(X)); }, sigmoid};
  case OpKind::Mish:
    return Unary{[](double X) {
                   double Sp = X > 30 ? X : std::log1p(std::exp(X));
                   return X * std::tanh(Sp);
                 },
                 [](double X) {
                   double Sp = X > 30 ? X : std::log1p(std::exp(X));
                   double T = std::tanh(Sp);
                   return T + X * (1 - T * T) * sigmoid(X);
                 }};
  case OpKind::HardSigmoid: {
    double Al = N.getFloat("alpha", 0.2f), Be = N.getFloat("beta", 0.5f);
    return Unary{[Al, Be](double X) { return std::clamp(Al * X + Be, 0.0, 1.0); },
                 [Al, Be](double X) { double Y = Al * X + Be; return Y > 0 && Y < 1 ? Al : 0.0; }};
  }
  case OpKind::Clip: {
    double Lo = -Infinity, Hi = Infinity;
    if (N.Opset < 11) {
      Lo = N.getFloat("min", -3.4e38f);
      Hi = N.getFloat("max", 3.4e38f);
    } else {
      if (N.input(1) != NoId) {
        auto C = scalarConst(A, N, 1);
        if (!C)
          return std::nullopt;
        Lo = *C;
      }
      if (N.input(2) != NoId) {
        auto C = scalarConst(A, N, 2);
        if (!C)
          return std::nullopt;
        Hi = *C;
      }
    }
    return Unary{[Lo, Hi](double X) { return std::clamp(X, Lo, Hi); },
                 [Lo, Hi](double X) { return X > Lo && X < Hi ? 1.0 : 0.0; }};
  }
  case OpKind::Gelu:
    if (N.getString("approximate", "none") == "tanh")
      return Unary{geluTanh, geluTanhD};
    return Unary{geluErf, geluErfD};
  case OpKind::MsGelu:
    return Unary{geluErf, geluErfD};
  case OpKind::FastGelu:
    if (N.input(1) != NoId)
      return std::nullopt; // with a bias: handled as x + b first
    return Unary{geluTanh, geluTanhD};
  case OpKind::QuickGelu: {
    double Al = N.getFloat("alpha", 1.702f);
    return Unary{[Al](double X) { return X * sigmoid(Al * X); },
                 [Al](double X) { double S = sigmoid(Al * X); return S + Al * X * S * (1 - S); }};
  }
  case OpKind::Identity:
  case OpKind::Dropout:
  case OpKind::Cast:
  case OpKind::CastLike:
    return Unary{[](double X) { return X; }, [](double) { return 1.0; }};
  case OpKind::Pow: {
    auto E = scalarConst(A, N, 1);
    if (!E)
      return std::nullopt;
    double P = *E;
    if (P == 2)
      return Unary{[](double X) { return X * X; }, [](double X) { return 2 * X; }};
    return Unary{[P](double X) { return std::pow(std::fabs(X), P) * (X < 0 && std::fmod(P, 2) == 1 ? -1 : 1); },
                 [P](double X) { return P * std::pow(std::max(std::fabs(X), 1e-30), P - 1) * (X < 0 && std::fmod(P, 2) == 0 ? -1 : 1); }};
  }
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Max:
  case OpKind::Min: {
    // With one scalar constant operand, a binary op is a unary map.
    auto C1 = scalarConst(A, N, 1), C0 = scalarConst(A, N, 0);
    if (!C1 && !C0)
      return std::nullopt;
    if (C1 && C0)
      return std::nullopt;
    double C = C1 ? *C1 : *C0;
    bool Right = bool(C1); // x op c
    switch (N.Kind) {
    case OpKind::Add:
      return Unary{[C](double X) { return X + C; }, [](double) { return 1.0; }};
    case OpKind::Sub:
      if (Right)
        return Unary{[C](double X) { return X - C; }, [](double) { return 1.0; }};
      return Unary{[C](double X) { return C - X; }, [](double) { return -1.0; }};
    case OpKind::Mul:
      return Unary{[C](double X) { return X * C; }, [C](double) { return C; }};
    case OpKind::Div:
      if (Right)
        return Unary{[C](double X) { return X / C; }, [C](double) { return 1.0 / C; }};
      return Unary{[C](double X) { return C / (std::fabs(X) < 1e-30 ? 1e-30 : X); },
                   [C](double X) { return -C / std::max(X * X, 1e-60); }};
    case OpKind::Max:
      return Unary{[C](double X) { return std::max(X, C); },
                   [C](double X) { return X > C ? 1.0 : 0.0; }};
    case OpKind::Min:
      return Unary{[C](double X) { return std::min(X, C); },
                   [C](double X) { return X < C ? 1.0 : 0.0; }};
    default:
      return std::nullopt;
    }
  }
  default:
    return std::nullopt;
  }
}

/// The non-constant operand a unary map reads (input 1 when the constant is
/// on the left of a binary op).
ValueId unaryOperand(const Analyzer &A, const Node &N) {
  if (familyOf(N.Kind) == OpFamily::Binary && scalarConst(A, N, 0) &&
      N.input(1) != NoId)
    return N.input(1);
  return N.input(0);
}

/// Summary (moments per feature and interval) of a tabulated value.
ValueSummary summarizeTable(const Analyzer &A, ValueId Out, const Table &T) {
  size_t NQ = T.nq();
  ValueSummary S = A.blank(Out);
  double Lo = Infinity, Hi = -Infinity;
  for (int64_t F = 0; F < S.Features; ++F) {
    double M1 = 0, M2 = 0;
    const double *W = T.Nodes->w(F);
    for (size_t I = 0; I < NQ; ++I) {
      double V = T.Val[F * NQ + I];
      M1 += W[I] * V;
      M2 += W[I] * V * V;
      Lo = std::min(Lo, V);
      Hi = std::max(Hi, V);
    }
    S.Mean[F] = M1;
    S.Var[F] = std::max(0.0, M2 - M1 * M1);
  }
  S.Min = Lo;
  S.Max = Hi;
  return S;
}

/// The table of a value over its own quadrature nodes (it is the source).
std::shared_ptr<Table> identityTable(const FwdState &X, ValueId V) {
  auto T = std::make_shared<Table>();
  T->Source = V;
  // Nodes stay inside the value's interval: a Gaussian over a positive
  // quantity (a row variance before Sqrt) must not put nodes below zero.
  double Lo = std::isfinite(X.S.Min) ? X.S.Min : -Infinity;
  double Hi = std::isfinite(X.S.Max) ? X.S.Max : Infinity;
  if (Lo > Hi)
    std::swap(Lo, Hi);
  // A nonnegative quantity (a row's mean square before Sqrt) is modelled
  // as log-normal with the same mean and variance, not as a Gaussian.
  bool Positive = Lo >= 0;
  T->Nodes = Positive ? Rule::hermite() : Rule::forGaussians(X.S.Mean, X.S.Var);
  size_t NQ = T->nq();
  int64_t Feat = X.S.Features;
  T->Val.resize(Feat * NQ);
  T->Der.assign(Feat * NQ, 1.0);
  for (int64_t F = 0; F < Feat; ++F) {
    double Mu = X.S.Mean[F], Var = X.S.Var[F];
    double S2 = Positive && Mu > 0 ? std::log1p(Var / (Mu * Mu)) : 0;
    const double *Z = T->Nodes->z(F);
    for (size_t I = 0; I < NQ; ++I) {
      double V = Positive && Mu > 0
                     ? Mu * std::exp(std::sqrt(S2) * Z[I] - 0.5 * S2)
                     : Mu + std::sqrt(Var) * Z[I];
      T->Val[F * NQ + I] = std::clamp(V, Lo, Hi);
    }
  }
  return T;
}

/// The table of X as a function of some source: its own, or the identity.
std::shared_ptr<const Table> tableOf(const Analyzer &A, ValueId V) {
  const FwdState *X = A.fwd(V);
  if (!X)
    return nullptr;
  if (X->T)
    return X->T;
  return identityTable(*X, V);
}

/// Fraction of a Gaussian per-feature summary with |x| >= T, and x <= 0.
void gaussianShares(const ValueSummary &S, double &Saturated, double &Inactive) {
  Saturated = Inactive = 0;
  for (int64_t F = 0; F < S.Features; ++F) {
    double Sd = std::sqrt(std::max(S.Var[F], 1e-300));
    double Z0 = -S.Mean[F] / Sd;
    Inactive += 0.5 * std::erfc(-Z0 / M_SQRT2);
    double Up = 0.5 * std::erfc((5 - S.Mean[F]) / Sd / M_SQRT2);
    double Dn = 0.5 * std::erfc((5 + S.Mean[F]) / Sd / M_SQRT2);
    Saturated += Up + Dn;
  }
  Saturated /= std::max<int64_t>(1, S.Features);
  Inactive /= std::max<int64_t>(1, S.Features);
}

/// Mask pattern of a folded float mask (0 keep, very negative drop) or a
/// folded boolean condition, over its last two axes.
std::shared_ptr<MaskInfo> maskFrom(const HostTensor &M, bool BoolKeepIsTrue,
                                   bool IsBool) {
  if (M.Shape.size() < 2)
    return nullptr;
  int64_t Tq = M.Shape[M.Shape.size() - 2], Tk = M.Shape.back();
  auto Info = std::make_shared<MaskInfo>();
  Info->Valid.assign(Tq, 0);
  bool Causal = Tq == Tk;
  for (int64_t I = 0; I < Tq; ++I)
    for (int64_t J = 0; J < Tk; ++J) {
      double V = M.real(I * Tk + J);
      bool Keep = IsBool ? ((V != 0) == BoolKeepIsTrue) : V > -1e3;
      Info->Valid[I] += Keep;
      if (Keep != (J <= I))
        Causal = false;
    }
  Info->Causal = Causal;
  return Info;
}

bool isVeryNegative(const Analyzer &A, ValueId V) {
  const Value &X = A.val(V);
  if (!X.Const || X.Const->size() == 0)
    return false;
  for (size_t I = 0; I != X.Const->size(); ++I)
    if (X.Const->real(I) > -1e3)
      return false;
  return true;
}

/// Moments of a broadcast binary op without tables, assuming independence.
ValueSummary binaryMoments(const Analyzer &A, const Node &N, ValueId Out) {
  ValueSummary S = A.blank(Out);
  const FwdState *X = A.fwd(N.input(0)), *Y = A.fwd(N.input(1));
  if (!X || !Y) {
    S.Var.assign(S.Features, 1.0);
    return S;
  }
  auto At = [](const ValueSummary &V, int64_t F, double &M, double &Var) {
    int64_t I = V.Features == 1 ? 0 : F % V.Features;
    M = V.Mean[I];
    Var = V.Var[I];
  };
  for (int64_t F = 0; F < S.Features; ++F) {
    double Ma, Va, Mb, Vb;
    At(X->S, F, Ma, Va);
    At(Y->S, F, Mb, Vb);
    switch (N.Kind) {
    case OpKind::Add:
    case OpKind::Sum:
    case OpKind::BiasGelu:
      S.Mean[F] = Ma + Mb;
      S.Var[F] = Va + Vb;
      break;
    case OpKind::Sub:
      S.Mean[F] = Ma - Mb;
      S.Var[F] = Va + Vb;
      break;
    case OpKind::Mul:
      S.Mean[F] = Ma * Mb;
      S.Var[F] = std::max(0.0, (Va + Ma * Ma) * (Vb + Mb * Mb) - Ma * Ma * Mb * Mb);
      break;
    case OpKind::Div: {
      // Delta method for 1/y around its mean.
      double Inv = 1.0 / (std::fabs(Mb) < 1e-30 ? 1e-30 : Mb);
      double R = Vb * Inv * Inv;
      double E1 = Inv * (1 + R), E2 = Inv * Inv * (1 + 3 * R);
      S.Mean[F] = Ma * E1;
      S.Var[F] = std::max(0.0, (Va + Ma * Ma) * E2 - S.Mean[F] * S.Mean[F]);
      break;
    }
    default: // Max, Min, Pow, Mod of two activations: a rough mixture
      S.Mean[F] = 0.5 * (Ma + Mb);
      S.Var[F] = 0.5 * (Va + Vb) + 0.25 * (Ma - Mb) * (Ma - Mb);
      break;
    }
  }
  S.Min = -Infinity;
  S.Max = Infinity;
  if (N.Kind == OpKind::Add || N.Kind == OpKind::Sum) {
    S.Min = X->S.Min + Y->S.Min;
    S.Max = X->S.Max + Y->S.Max;
  }
  return S;
}

/// Elementwise maps that tabulate: a unary map of a value, or a binary op of
/// two values that are both functions of the same source.
bool forwardTabulated(Analyzer &A, const Node &N, ValueId Out) {
  if (auto U = unaryOf(A, N)) {
    ValueId In = unaryOperand(A, N);
    auto T = tableOf(A, In);
    if (!T || A.val(In).Shape != A.val(Out).Shape)
      return false;
    auto R = std::make_shared<Table>();
    R->Source = T->Source;
    R->Nodes = T->Nodes;
    R->Val.resize(T->Val.size());
    R->Der.resize(T->Der.size());
    for (size_t I = 0; I != T->Val.size(); ++I) {
      R->Val[I] = U->F(T->Val[I]);
      R->Der[I] = U->D(T->Val[I]) * T->Der[I];
    }
    ValueSummary S = summarizeTable(A, Out, *R);
    const FwdState *X = A.fwd(In);
    if (X && std::isfinite(X->S.Min) && std::isfinite(X->S.Max)) {
      double L = U->F(X->S.Min), H = U->F(X->S.Max);
      S.Min = std::min({S.Min, L, H});
      S.Max = std::max({S.Max, L, H});
    }
    A.setFwd(Out, S, R);
    return true;
  }
  if (familyOf(N.Kind) != OpFamily::Binary || N.Inputs.size() != 2)
    return false;
  auto TA = tableOf(A, N.input(0)), TB = tableOf(A, N.input(1));
  if (!TA || !TB || TA->Source != TB->Source || TA->nq() != TB->nq() ||
      A.val(N.input(0)).Shape != A.val(Out).Shape ||
      A.val(N.input(1)).Shape != A.val(Out).Shape)
    return false;
  auto R = std::make_shared<Table>();
  R->Source = TA->Source;
  R->Nodes = TA->Nodes;
  R->Val.resize(TA->Val.size());
  R->Der.resize(TA->Val.size());
  for (size_t I = 0; I != TA->Val.size(); ++I) {
    double X = TA->Val[I], Y = TB->Val[I], DX = TA->Der[I], DY = TB->Der[I];
    switch (N.Kind) {
    case OpKind::Add:
    case OpKind::Sum:
      R->Val[I] = X + Y;
      R->Der[I] = DX + DY;
      break;
    case OpKind::Sub:
      R->Val[I] = X - Y;
      R->Der[I] = DX - DY;
      break;
    case OpKind::Mul:
      R->Val[I] = X * Y;
      R->Der[I] = DX * Y + X * DY;
      break;
    case OpKind::Div: {
      double Yc = std::fabs(Y) < 1e-30 ? 1e-30 : Y;
      R->Val[I] = X / Yc;
      R->Der[I] = (DX * Yc - X * DY) / (Yc * Yc);
      break;
    }
    case OpKind::Max:
      R->Val[I] = std::max(X, Y);
      R->Der[I] = X >= Y ? DX : DY;
      break;
    case OpKind::Min:
      R->Val[I] = std::min(X, Y);
      R->Der[I] = X <= Y ? DX : DY;
      break;
    default:
      return false;
    }
  }
  A.setFwd(Out, summarizeTable(A, Out, *R), R);
  return true;
}

} // namespace

/// Per-position means through an elementwise op: linearised along a table
/// (D_out = E[f'(x)] · D_x per feature), summed through Add/Sub, scaled by a
/// constant without positions through Mul/Div.
static void forwardPositions(Analyzer &A, const Node &N, ValueId Out) {
  const FwdState *O = A.fwd(Out);
  const Dims &Shape = A.val(Out).Shape;
  if (!O || Shape.size() < 2)
    return;
  int64_t T = Shape[Shape.size() - 2], Fe = Shape.back();
  auto Fits = [&](const std::shared_ptr<const PositionMeans> &P) {
    return P && P->T == T && P->F == Fe;
  };
  int64_t Rows = PositionMeans::rowsFor(T);
  if (O->T && O->T->Source != NoId) {
    auto P = A.positions(O->T->Source);
    if (!Fits(P) || A.val(O->T->Source).Shape.back() != Fe)
      return;
    size_t NQ = O->T->nq();
    std::vector<double> D(P->D.size());
    for (int64_t F = 0; F < Fe; ++F) {
      double Slope = 0;
      const double *W = O->T->Nodes->w(F);
      for (size_t I = 0; I < NQ; ++I)
        Slope += W[I] * O->T->Der[F * NQ + I];
      for (int64_t Ti = 0; Ti < Rows; ++Ti)
        D[Ti * Fe + F] = Slope * P->D[Ti * Fe + F];
    }
    A.setPositions(Out, std::move(D), P->Scale);
    return;
  }
  if (N.Inputs.size() != 2)
    return;
  auto PA = A.positions(N.input(0)), PB = A.positions(N.input(1));
  if (N.Kind == OpKind::Add || N.Kind == OpKind::Sub) {
    if (!Fits(PA) && !Fits(PB))
      return;
    std::vector<double> D(Rows * Fe, 0.0);
    if (Fits(PA))
      D = PA->D;
    if (Fits(PB))
      for (size_t I = 0; I != D.size(); ++I)
        D[I] += N.Kind == OpKind::Sub ? -PB->D[I] : PB->D[I];
    // Each position's variance about its mean: the operands' add.
    std::vector<double> Scale;
    const FwdState *X = A.fwd(N.input(0)), *Y = A.fwd(N.input(1));
    if (X && Y && ((Fits(PA) && !PA->Scale.empty()) || (Fits(PB) && !PB->Scale.empty()))) {
      auto Noise = [&](const FwdState *S, const std::shared_ptr<const PositionMeans> &P) {
        double V = Analyzer::sumVar(S->S) * double(Fe) / std::max<int64_t>(1, S->S.Features);
        if (Fits(P))
          for (double Di : P->D)
            V -= Di * Di / Rows;
        return std::max(0.0, V);
      };
      double NA = Noise(X, PA), NB = Noise(Y, PB);
      if (NA + NB > 0) {
        Scale.resize(Rows);
        for (int64_t Ti = 0; Ti < Rows; ++Ti)
          Scale[Ti] = ((Fits(PA) ? PA->scale(Ti) : 1.0) * NA +
                       (Fits(PB) ? PB->scale(Ti) : 1.0) * NB) / (NA + NB);
      }
    }
    A.setPositions(Out, std::move(D), std::move(Scale));
    return;
  }
  if (N.Kind == OpKind::Mul || N.Kind == OpKind::Div) {
    // x · c or x / c with c a constant per feature (no positions of its own).
    unsigned XI = Fits(PA) ? 0 : 1;
    auto P = XI == 0 ? PA : PB;
    ValueId CV = N.input(1 - XI);
    if (!Fits(P) || (N.Kind == OpKind::Div && XI == 1))
      return;
    const Value &Val = A.val(CV);
    std::vector<double> Cst;
    if (const TensorData *Init = A.G.initializer(CV))
      Init->toDoubles(Cst);
    else if (Val.Const)
      Cst = Val.Const->Reals;
    if (Cst.empty() || (Cst.size() != 1 && int64_t(Cst.size()) != Fe))
      return;
    std::vector<double> D(P->D.size());
    for (int64_t Ti = 0; Ti < Rows; ++Ti)
      for (int64_t F = 0; F < Fe; ++F) {
        double C = Cst[Cst.size() == 1 ? 0 : F];
        double X = P->D[Ti * Fe + F];
        D[Ti * Fe + F] = N.Kind == OpKind::Mul ? X * C : (C == 0 ? 0 : X / C);
      }
    A.setPositions(Out, std::move(D), P->Scale);
  }
}

/// What a sequence's tokens share (FwdState::Shared) through an elementwise
/// op: along a table by Mehler's formula per feature; through Add/Sub, the
/// operands' shared variances add; through a constant scale, unchanged.
static void forwardShared(Analyzer &A, const Node &N, ValueId Out) {
  const FwdState *O = A.fwd(Out);
  if (!O)
    return;
  double VarOut = Analyzer::sumVar(O->S);
  if (O->T && O->T->Source != NoId) {
    double Rho = A.shared(O->T->Source);
    if (Rho <= 0 || VarOut <= 0)
      return;
    const Table &T = *O->T;
    size_t NQ = T.nq();
    double Shared = 0;
    for (int64_t F = 0; F < O->S.Features && (F + 1) * NQ <= T.Val.size(); ++F)
      Shared += mehlerCorrelation(&T.Val[F * NQ], T.Nodes->z(F), T.Nodes->w(F), NQ, Rho) *
                O->S.Var[F];
    A.setShared(Out, Shared / VarOut);
    return;
  }
  if (N.Inputs.size() != 2 || VarOut <= 0)
    return;
  const FwdState *X = A.fwd(N.input(0)), *Y = A.fwd(N.input(1));
  if (N.Kind == OpKind::Add || N.Kind == OpKind::Sub) {
    double Shared = 0;
    for (const FwdState *P : {X, Y})
      if (P)
        Shared += P->S.SequenceShared * Analyzer::sumVar(P->S) *
                  double(O->S.Features) / std::max<int64_t>(1, P->S.Features);
    A.setShared(Out, Shared / VarOut);
    return;
  }
  // An activation times or over a constant (no variance of its own).
  if ((N.Kind == OpKind::Mul || N.Kind == OpKind::Div) && X && Y &&
      (Analyzer::sumVar(X->S) == 0) != (Analyzer::sumVar(Y->S) == 0))
    A.setShared(Out, Analyzer::sumVar(X->S) == 0 ? Y->S.SequenceShared : X->S.SequenceShared);
}

static bool forwardElementwiseMoments(Analyzer &A, const Node &N);

bool analysis::forwardElementwise(Analyzer &A, const Node &N) {
  bool Ok = forwardElementwiseMoments(A, N);
  if (Ok && !N.Outputs.empty() && N.Outputs[0] != NoId) {
    forwardPositions(A, N, N.Outputs[0]);
    forwardShared(A, N, N.Outputs[0]);
  }
  return Ok;
}

static bool forwardElementwiseMoments(Analyzer &A, const Node &N) {
  ValueId Out = N.Outputs.empty() ? NoId : N.Outputs[0];
  if (Out == NoId)
    return true;
  // Facts for rules: saturation and dead units of the input.
  if (const FwdState *X = A.fwd(N.input(0))) {
    double Sat, Inact;
    gaussianShares(X->S, Sat, Inact);
    NodeFacts &Fa = A.Facts[&N - A.G.Nodes.data()];
    if (N.Kind == OpKind::Sigmoid || N.Kind == OpKind::Tanh)
      Fa.SaturatedShare = Sat;
    if (N.Kind == OpKind::Relu)
      Fa.InactiveShare = Inact;
  }
  // Masks: scores + (0 / -inf mask), or Where(cond, scores, -inf).
  if (N.Kind == OpKind::Add && N.Inputs.size() == 2) {
    for (unsigned I = 0; I != 2; ++I) {
      ValueId Mask = N.input(I), Scores = N.input(1 - I);
      const Value &MV = A.val(Mask);
      if (MV.Const && MV.Const->size() > 1 && A.fwd(Scores) &&
          A.val(Scores).Shape == A.val(Out).Shape) {
        bool HasNeg = false;
        for (size_t K = 0; K != MV.Const->size(); ++K)
          HasNeg |= MV.Const->real(K) <= -1e3;
        if (!HasNeg)
          continue;
        A.setFwd(Out, A.fwd(Scores)->S, nullptr, maskFrom(*MV.Const, true, false));
        return true;
      }
    }
  }
  if (N.Kind == OpKind::Where && N.Inputs.size() == 3) {
    const Value &Cond = A.val(N.input(0));
    for (unsigned Branch = 1; Branch <= 2; ++Branch) {
      ValueId Fill = N.input(Branch), Scores = N.input(3 - Branch);
      if (isVeryNegative(A, Fill) && A.fwd(Scores) &&
          A.val(Scores).Shape == A.val(Out).Shape) {
        std::shared_ptr<MaskInfo> Mask;
        if (Cond.Const)
          Mask = maskFrom(*Cond.Const, /*BoolKeepIsTrue=*/Branch == 2, true);
        A.setFwd(Out, A.fwd(Scores)->S, nullptr, Mask);
        return true;
      }
    }
    // Selection between two values: a mixture.
    const FwdState *X = A.fwd(N.input(1)), *Y = A.fwd(N.input(2));
    ValueSummary S = A.blank(Out);
    if (X && Y)
      for (int64_t F = 0; F < S.Features; ++F) {
        auto Get = [F](const ValueSummary &V, double &M, double &Var) {
          int64_t I = V.Features == 1 ? 0 : F % V.Features;
          M = V.Mean[I];
          Var = V.Var[I];
        };
        double Ma, Va, Mb, Vb;
        Get(X->S, Ma, Va);
        Get(Y->S, Mb, Vb);
        S.Mean[F] = 0.5 * (Ma + Mb);
        S.Var[F] = 0.5 * (Va + Vb) + 0.25 * (Ma - Mb) * (Ma - Mb);
      }
    A.setFwd(Out, S);
    return true;
  }
  if (forwardTabulated(A, N, Out))
    return true;
  if (familyOf(N.Kind) == OpFamily::Binary && N.Inputs.size() >= 2) {
    if (N.Kind == OpKind::BiasGelu) {
      // gelu(x + b): moments of x + b, then the map.
      ValueSummary S = binaryMoments(A, N, Out);
      auto T = std::make_shared<Table>();
      FwdState Tmp;
      Tmp.S = S;
      auto Id = identityTable(Tmp, NoId);
      T->Source = NoId;
      T->Nodes = Id->Nodes;
      T->Val.resize(Id->Val.size());
      T->Der.resize(Id->Val.size());
      for (size_t I = 0; I != Id->Val.size(); ++I) {
        T->Val[I] = geluErf(Id->Val[I]);
        T->Der[I] = geluErfD(Id->Val[I]);
      }
      A.setFwd(Out, summarizeTable(A, Out, *T), T);
      return true;
    }
    A.setFwd(Out, binaryMoments(A, N, Out));
    return true;
  }
  return unaryOf(A, N).has_value() || N.Kind == OpKind::Not;
}

/// Energy factors of a table: E[d²] and E[d]² averaged over features.
static void tableFactors(const Table &T, double &Total, double &Coherent) {
  size_t NQ = T.nq();
  size_t Feat = T.Der.size() / NQ;
  Total = Coherent = 0;
  for (size_t F = 0; F < Feat; ++F) {
    double D1 = 0, D2 = 0;
    const double *W = T.Nodes->w(F);
    for (size_t I = 0; I < NQ; ++I) {
      double D = T.Der[F * NQ + I];
      D1 += W[I] * D;
      D2 += W[I] * D * D;
    }
    Total += D2;
    Coherent += D1 * D1;
  }
  Total /= std::max<size_t>(1, Feat);
  Coherent /= std::max<size_t>(1, Feat);
}

/// A gradient through a per-element derivative d with the given factors
/// (Total = E[d²], Coherent = E[d]²) over Rows rows. The rows' mean of d·g
/// is E[d]·ḡ plus the sample mean of Rows draws of (d − E d)·g, whose
/// energy (Total − Coherent)·‖g‖²/Rows a saturated map (E[d] ≈ 0, a few
/// rows in its bend) makes the whole coherent part: a bias behind it sums
/// those few rows.
static GradState throughDerivative(const GradState &G, double Total,
                                   double Coherent, double MaxAbs, double Tau,
                                   int64_t Rows) {
  GradState C = G;
  double E = Total * G.energy();
  C.Coherent = Coherent * G.Coherent +
               std::max(0.0, Total - Coherent) * G.energy() / std::max<int64_t>(1, Rows);
  C.Coherent = std::min(C.Coherent, E);
  C.Varying = std::max(0.0, E - C.Coherent);
  C.Sigma2 += Tau * Tau;
  C.Lip = G.Lip * MaxAbs;
  C.OnesFree = 0;
  C.ZeroRowSum = false;
  return C;
}

bool analysis::backwardElementwise(Analyzer &A, const Node &N) {
  ValueId Out = N.Outputs.empty() ? NoId : N.Outputs[0];
  if (Out == NoId || !A.grad(Out).Reached)
    return true;
  const GradState &G = A.grad(Out);
  const FwdState *Y = A.fwd(Out);
  // Tabulated chains: the whole chain's derivative goes to its source.
  if (Y && Y->T) {
    double Total, Coherent;
    tableFactors(*Y->T, Total, Coherent);
    double MaxAbs = 0;
    for (double D : Y->T->Der)
      MaxAbs = std::max(MaxAbs, std::fabs(D));
    // Saturating maps (most derivative mass near zero) are sensitive to
    // the input's tails: widen with the share of nodes whose derivative is
    // under a tenth of its largest.
    double Flat = 0;
    {
      size_t NQ = Y->T->nq(), Feat = Y->T->Der.size() / NQ;
      for (size_t F = 0; F < Feat; ++F)
        for (size_t I = 0; I < NQ; ++I)
          Flat += Y->T->Nodes->w(F)[I] * (std::fabs(Y->T->Der[F * NQ + I]) < 0.1 * MaxAbs &&
                                          std::fabs(Y->T->Der[F * NQ + I]) > 0);
      Flat /= std::max<size_t>(1, Feat);
    }
    GradState C = throughDerivative(G, Total, Coherent, MaxAbs, std::hypot(0.05, Flat),
                                    A.blank(Out).Rows);
    if (Y->T->Source != NoId) {
      A.addGrad(Y->T->Source, C);
      return true;
    }
    // A map of a virtual source (BiasGelu): to each operand.
    for (ValueId In : N.Inputs)
      if (In != NoId)
        A.addGrad(In, A.reduceBroadcast(C, Out, In));
    return true;
  }
  switch (N.Kind) {
  case OpKind::Identity:
  case OpKind::Dropout:
  case OpKind::Cast:
  case OpKind::CastLike:
    A.addGrad(N.input(0), G); // exact: the gradient passes unchanged
    return true;
  case OpKind::Add:
  case OpKind::Sum:
  case OpKind::Sub:
    for (ValueId In : N.Inputs) {
      // An additive attention mask (0 / very negative) is a constant by
      // construction, even when built from a float buffer initializer.
      const Value &IV = A.val(In);
      bool Mask = IV.Const && IV.Const->size() > 1 &&
                  llvm::any_of(IV.Const->Reals, [](double X) { return X <= -1e3; });
      if (In != NoId && A.differentiable(In) && !Mask)
        A.addGrad(In, A.reduceBroadcast(G, Out, In));
    }
    return true;
  case OpKind::Where: {
    // The mask branch takes the whole gradient (masked entries carry none).
    for (unsigned Branch = 1; Branch <= 2; ++Branch) {
      ValueId In = N.input(Branch);
      if (In == NoId || !A.differentiable(In))
        continue;
      bool OtherIsFill = isVeryNegative(A, N.input(3 - Branch)) ||
                         !A.differentiable(N.input(3 - Branch));
      GradState C = A.reduceBroadcast(G, Out, In);
      if (!OtherIsFill) {
        C.Coherent *= 0.5;
        C.Varying *= 0.5;
      }
      A.addGrad(In, C);
    }
    return true;
  }
  case OpKind::Mul:
  case OpKind::Div: {
    const FwdState *X = A.fwd(N.input(0)), *Z = A.fwd(N.input(1));
    if (!X || !Z)
      return false;
    for (unsigned I = 0; I != 2; ++I) {
      ValueId In = N.input(I);
      if (!A.differentiable(In))
        continue; // a folded constant takes no gradient
      const ValueSummary &Other = I == 0 ? Z->S : X->S;
      const ValueSummary &Self = I == 0 ? X->S : Z->S;
      double M2 = Analyzer::pooledM2(Other), Mean = Analyzer::pooledMean(Other);
      double Factor, Coh;
      if (N.Kind == OpKind::Mul) {
        Factor = M2;
        Coh = Mean * Mean;
      } else if (I == 0) { // d(x/y)/dx = 1/y
        double Inv = 1.0 / std::max(std::fabs(Mean), 1e-30);
        double R = Analyzer::pooledVar(Other) * Inv * Inv;
        Factor = Inv * Inv * (1 + 3 * R);
        Coh = Inv * Inv * (1 + R) * (1 + R);
      } else { // d(x/y)/dy = -x/y²: E[x²]·E[1/y⁴] by the delta method
        double MeanY = Analyzer::pooledMean(Self);
        double Inv = 1.0 / std::max(std::fabs(MeanY), 1e-30);
        double R = Analyzer::pooledVar(Self) * Inv * Inv;
        double Inv4 = Inv * Inv * Inv * Inv * (1 + 10 * R);
        Factor = Analyzer::pooledM2(Other) * Inv4;
        Coh = Analyzer::pooledMean(Other) * Analyzer::pooledMean(Other) * Inv4;
      }
      const Value &IV = A.val(In), &OV = A.val(Out);
      bool RowBroadcast = IV.Shape.size() <= 1 ||
                          (IV.Shape.size() < OV.Shape.size()) ||
                          (A.blank(In).Rows < A.blank(Out).Rows);
      GradState C;
      if (RowBroadcast && N.Kind == OpKind::Mul && IV.Shape.size() >= 1 &&
          IV.Shape.back() == OV.Shape.back()) {
        // A per-feature scale (γ): like a weight, Σ_n x_n g_n per feature.
        double Rows = A.blank(Out).Rows, OpRows = std::max<int64_t>(1, A.blank(In).Rows);
        double D = std::max<int64_t>(1, Other.Features);
        C = G;
        double E = (Rows / OpRows) * Analyzer::sumMean2(Other) / D * G.Coherent +
                   Analyzer::sumVar(Other) / D * G.Varying;
        C.Coherent = 0;
        C.Varying = E;
        C.Sigma2 += 0.05 * 0.05;
        C.Lip = G.Lip * std::sqrt(double(A.blank(Out).Rows)) *
                std::max(std::fabs(Other.Min), std::fabs(Other.Max));
        C.OnesFree = 0;
        C.ZeroRowSum = false;
      } else {
        double MaxAbs = N.Kind == OpKind::Mul
                            ? std::max(std::fabs(Other.Min), std::fabs(Other.Max))
                            : Infinity;
        C = A.reduceBroadcast(
            throughDerivative(G, Factor, Coh, MaxAbs, 0.05, A.blank(Out).Rows), Out, In);
        if (Z->S.Features == 1 && I == 0 && Other.Var[0] == 0) {
          // Scaling by a constant keeps the gradient's structure.
          C.OnesFree = G.OnesFree;
          C.ZeroRowSum = G.ZeroRowSum;
        }
      }
      A.addGrad(In, C);
    }
    return true;
  }
  default: {
    // Other maps without a table (an operand without a summary): unit
    // derivative, flagged uncertain.
    auto U = unaryOf(A, N);
    if (!U)
      return N.Kind == OpKind::Not || familyOf(N.Kind) == OpFamily::Binary
                 ? (std::for_each(N.Inputs.begin(), N.Inputs.end(), [&](ValueId In) {
                      if (In != NoId && A.differentiable(In)) {
                        GradState C = A.reduceBroadcast(G, Out, In);
                        C.Sigma2 += 0.25;
                        A.addGrad(In, C);
                      }
                    }),
                    true)
                 : false;
    GradState C = G;
    C.Sigma2 += 0.25;
    A.addGrad(unaryOperand(A, N), C);
    return true;
  }
  }
}
