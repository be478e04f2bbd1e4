//===- TransferTest.cpp - each transfer rule against Monte Carlo ----------===//
//
// A table of one-op (or one-pattern) graphs. For each, the test implements
// the op's forward pass itself, draws inputs as DESIGN §3 says (x standard
// normal) and the projection loss's r, takes ∂L/∂x and ∂L/∂θ by central
// finite differences, and averages ‖·‖² over draws. The analysis' est must
// match sqrt of that average, and the Monte Carlo value must lie in [lo, hi].
//
//===----------------------------------------------------------------------===//
#include "OnnxBuilder.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Random.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1;
constexpr int64_t N = 8, D = 16;

using Vec = std::vector<double>;
/// Forward of the op under test: x [N, D] and parameters -> y.
using Forward = std::function<Vec(const Vec &X, const std::map<std::string, Vec> &P)>;

struct Case {
  std::string Name;
  std::function<void(OnnxBuilder &, std::map<std::string, Vec> &)> Build;
  Forward F;
  double Tol; ///< relative tolerance on est against Monte Carlo
};

Vec seeded(Rng &R, size_t Count, double Scale) {
  Vec V(Count);
  for (double &X : V)
    X = Scale * R.normal();
  return V;
}

std::vector<float> toFloat(const Vec &V) { return std::vector<float>(V.begin(), V.end()); }

/// Monte Carlo of E‖∂L/∂x‖² and E‖∂L/∂θ‖² with L = (1/rows) Σ r ⊙ y.
std::map<std::string, double> monteCarlo(const Case &C,
                                         const std::map<std::string, Vec> &Params,
                                         unsigned Draws) {
  Rng R(99);
  std::map<std::string, double> Energy;
  const double H = 1e-5;
  for (unsigned It = 0; It < Draws; ++It) {
    Vec X = seeded(R, N * D, 1.0);
    Vec Y = C.F(X, Params);
    size_t Rows = Y.size() / (Y.size() % D == 0 && Y.size() >= D ? D : Y.size());
    size_t Feat = Y.size() / Rows;
    (void)Feat;
    Vec Rv = seeded(R, Y.size(), 1.0);
    auto Loss = [&](const Vec &Xv, const std::map<std::string, Vec> &P) {
      Vec Yv = C.F(Xv, P);
      double L = 0;
      for (size_t I = 0; I != Yv.size(); ++I)
        L += Rv[I] * Yv[I];
      return L / Rows;
    };
    double Gx = 0;
    for (size_t I = 0; I != X.size(); ++I) {
      Vec Xp = X, Xm = X;
      Xp[I] += H;
      Xm[I] -= H;
      double G = (Loss(Xp, Params) - Loss(Xm, Params)) / (2 * H);
      Gx += G * G;
    }
    Energy["x"] += Gx / Draws;
    for (const auto &[Name, V] : Params) {
      double Gp = 0;
      for (size_t I = 0; I != V.size(); ++I) {
        auto Pp = Params, Pm = Params;
        Pp[Name][I] += H;
        Pm[Name][I] -= H;
        double G = (Loss(X, Pp) - Loss(X, Pm)) / (2 * H);
        Gp += G * G;
      }
      Energy[Name] += Gp / Draws;
    }
  }
  return Energy;
}

double sigmoid(double X) { return 1 / (1 + std::exp(-X)); }

/// Applies a unary map elementwise.
Forward unary(std::function<double(double)> Fn) {
  return [Fn](const Vec &X, const std::map<std::string, Vec> &) {
    Vec Y(X.size());
    for (size_t I = 0; I != X.size(); ++I)
      Y[I] = Fn(X[I]);
    return Y;
  };
}

Case unaryCase(const std::string &Op, std::function<double(double)> Fn,
               double Tol = 0.05) {
  return {Op, [Op](OnnxBuilder &B, std::map<std::string, Vec> &) {
            B.node(Op, {"x"}, {"y"});
          },
          unary(Fn), Tol};
}

std::vector<Case> cases() {
  std::vector<Case> Cs;
  Cs.push_back(unaryCase("Relu", [](double X) { return X > 0 ? X : 0; }));
  Cs.push_back(unaryCase("Tanh", [](double X) { return std::tanh(X); }));
  Cs.push_back(unaryCase("Sigmoid", sigmoid));
  Cs.push_back(unaryCase("Exp", [](double X) { return std::exp(X); }, 0.15));
  Cs.push_back(unaryCase("Erf", [](double X) { return std::erf(X); }));
  Cs.push_back({"SiLU chain x*sigmoid(x)",
                [](OnnxBuilder &B, std::map<std::string, Vec> &) {
                  B.node("Sigmoid", {"x"}, {"s"}).node("Mul", {"x", "s"}, {"y"});
                },
                unary([](double X) { return X * sigmoid(X); }), 0.05});
  Cs.push_back({"GELU erf chain x*0.5*(1+erf(x/sqrt2))",
                [](OnnxBuilder &B, std::map<std::string, Vec> &) {
                  B.constantFloat("r2", {}, {1.41421356f})
                      .constantFloat("one", {}, {1.0f})
                      .constantFloat("half", {}, {0.5f})
                      .node("Div", {"x", "r2"}, {"a"})
                      .node("Erf", {"a"}, {"e"})
                      .node("Add", {"e", "one"}, {"b"})
                      .node("Mul", {"x", "b"}, {"c"})
                      .node("Mul", {"c", "half"}, {"y"});
                },
                unary([](double X) { return 0.5 * X * (1 + std::erf(X / std::sqrt(2.0))); }),
                0.05});
  Cs.push_back({"Add bias (a coherent gradient)",
                [](OnnxBuilder &B, std::map<std::string, Vec> &P) {
                  Rng R(5);
                  P["b"] = seeded(R, D, 1.0);
                  B.floatInit("b", {D}, toFloat(P["b"])).node("Add", {"x", "b"}, {"y"});
                },
                [](const Vec &X, const std::map<std::string, Vec> &P) {
                  Vec Y = X;
                  for (size_t I = 0; I != Y.size(); ++I)
                    Y[I] += P.at("b")[I % D];
                  return Y;
                },
                0.1});
  Cs.push_back({"MatMul with a weight",
                [](OnnxBuilder &B, std::map<std::string, Vec> &P) {
                  Rng R(6);
                  P["w"] = seeded(R, D * D, 1 / std::sqrt(double(D)));
                  B.floatInit("w", {D, D}, toFloat(P["w"])).node("MatMul", {"x", "w"}, {"y"});
                },
                [](const Vec &X, const std::map<std::string, Vec> &P) {
                  Vec Y(N * D, 0.0);
                  for (int64_t I = 0; I < N; ++I)
                    for (int64_t K = 0; K < D; ++K)
                      for (int64_t M = 0; M < D; ++M)
                        Y[I * D + M] += X[I * D + K] * P.at("w")[K * D + M];
                  return Y;
                },
                0.1});
  // A bias behind a saturated map sums the few rows in its bend: its
  // gradient is the rows' sample mean, not E[sigmoid'] times the mean.
  Cs.push_back({"Sigmoid of a wide MatMul plus bias (sd 30: saturated but for a few)",
                [](OnnxBuilder &B, std::map<std::string, Vec> &P) {
                  Rng R(8);
                  P["w"] = seeded(R, D * D, 30 / std::sqrt(double(D)));
                  P["b"] = seeded(R, D, 1.0);
                  B.floatInit("w", {D, D}, toFloat(P["w"]))
                      .floatInit("b", {D}, toFloat(P["b"]))
                      .node("MatMul", {"x", "w"}, {"h"})
                      .node("Add", {"h", "b"}, {"hb"})
                      .node("Sigmoid", {"hb"}, {"y"});
                },
                [](const Vec &X, const std::map<std::string, Vec> &P) {
                  Vec Y(N * D, 0.0);
                  for (int64_t I = 0; I < N; ++I)
                    for (int64_t M = 0; M < D; ++M) {
                      Y[I * D + M] = P.at("b")[M];
                      for (int64_t K = 0; K < D; ++K)
                        Y[I * D + M] += X[I * D + K] * P.at("w")[K * D + M];
                    }
                  for (double &V : Y)
                    V = sigmoid(V);
                  return Y;
                },
                0.15});
  Cs.push_back({"Relu behind a bias",
                [](OnnxBuilder &B, std::map<std::string, Vec> &P) {
                  Rng R(9);
                  P["b"] = seeded(R, D, 0.5);
                  B.floatInit("b", {D}, toFloat(P["b"]))
                      .node("Add", {"x", "b"}, {"h"})
                      .node("Relu", {"h"}, {"y"});
                },
                [](const Vec &X, const std::map<std::string, Vec> &P) {
                  Vec Y = X;
                  for (size_t I = 0; I != Y.size(); ++I)
                    Y[I] = std::max(0.0, Y[I] + P.at("b")[I % D]);
                  return Y;
                },
                0.1});
  Cs.push_back({"LayerNormalization with gamma and beta",
                [](OnnxBuilder &B, std::map<std::string, Vec> &P) {
                  Rng R(7);
                  P["g"] = seeded(R, D, 0.5);
                  for (double &G : P["g"])
                    G += 1;
                  P["be"] = seeded(R, D, 0.5);
                  B.floatInit("g", {D}, toFloat(P["g"]))
                      .floatInit("be", {D}, toFloat(P["be"]))
                      .node("LayerNormalization", {"x", "g", "be"}, {"y"},
                            {{"epsilon", 1e-5f}});
                },
                [](const Vec &X, const std::map<std::string, Vec> &P) {
                  Vec Y(X.size());
                  for (int64_t I = 0; I < N; ++I) {
                    double M = 0, V = 0;
                    for (int64_t F = 0; F < D; ++F)
                      M += X[I * D + F] / D;
                    for (int64_t F = 0; F < D; ++F)
                      V += (X[I * D + F] - M) * (X[I * D + F] - M) / D;
                    for (int64_t F = 0; F < D; ++F)
                      Y[I * D + F] = (X[I * D + F] - M) / std::sqrt(V + 1e-5) * P.at("g")[F] +
                                     P.at("be")[F];
                  }
                  return Y;
                },
                0.1});
  Cs.push_back({"Softmax over the last axis",
                [](OnnxBuilder &B, std::map<std::string, Vec> &) {
                  B.node("Softmax", {"x"}, {"y"}, {{"axis", int64_t(-1)}});
                },
                [](const Vec &X, const std::map<std::string, Vec> &) {
                  Vec Y(X.size());
                  for (int64_t I = 0; I < N; ++I) {
                    double Mx = -1e300, S = 0;
                    for (int64_t F = 0; F < D; ++F)
                      Mx = std::max(Mx, X[I * D + F]);
                    for (int64_t F = 0; F < D; ++F)
                      S += std::exp(X[I * D + F] - Mx);
                    for (int64_t F = 0; F < D; ++F)
                      Y[I * D + F] = std::exp(X[I * D + F] - Mx) / S;
                  }
                  return Y;
                },
                0.15});
  return Cs;
}
} // namespace

TEST_CASE("transfer rules match Monte Carlo with finite differences",
          "[analysis][transfer]") {
  for (const Case &C : cases()) {
    INFO("case: " << C.Name);
    std::map<std::string, Vec> Params;
    OnnxBuilder B;
    B.input("x", F32, {N, D});
    C.Build(B, Params);
    B.output("y");
    std::string Dir = makeTempDir("transfer");
    auto M = loadModel(B.writeTo(Dir + "/m.onnx"));
    std::system(("rm -rf '" + Dir + "'").c_str());
    REQUIRE(bool(M));
    REQUIRE(bool(inferShapes(**M, {})));
    auto R = analyze(**M);
    if (!R)
      FAIL(llvm::toString(R.takeError()));
    REQUIRE(R->Setup.Loss == LossKind::Projection);
    std::map<std::string, double> MC = monteCarlo(C, Params, 200);
    const Graph &G = (*M)->G;
    auto Check = [&](const std::string &Name, const Bound &Pred) {
      double Truth = std::sqrt(MC.at(Name));
      INFO(Name << ": est " << Pred.Est << " [" << Pred.Lo << ", " << Pred.Hi
                << "], Monte Carlo " << Truth);
      CHECK(Pred.Est == Approx(Truth).epsilon(C.Tol));
      CHECK(Truth >= Pred.Lo);
      CHECK(Truth <= Pred.Hi);
    };
    Check("x", R->Backward[G.findValue("x")].Norm);
    for (const ParameterPrediction &P : R->Parameters)
      if (Params.count(P.Name))
        Check(P.Name, P.GradNorm);
  }
}
