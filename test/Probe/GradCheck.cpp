//===- GradCheck.cpp - finite-difference checks of the probe's gradients --===//
#include "GradCheck.h"
#include "TestPaths.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Probe/Executor.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Random.h"
#include <catch2/catch.hpp>
#include <cmath>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::test;

std::vector<float> gradlint::test::randomValues(const std::vector<int64_t> &Shape,
                                                Domain D, unsigned Seed) {
  int64_t N = 1;
  for (int64_t X : Shape)
    N *= X;
  Rng R(1000 + Seed);
  std::vector<float> Out(N);
  for (float &X : Out) {
    switch (D) {
    case Domain::Normal:
      X = static_cast<float>(R.normal());
      break;
    case Domain::Positive:
      X = static_cast<float>(0.5 + 1.5 * R.uniform());
      break;
    case Domain::AwayFromZero:
      X = static_cast<float>((0.2 + 1.8 * R.uniform()) * (R.uniform() < 0.5 ? -1 : 1));
      break;
    case Domain::Unit:
      X = static_cast<float>(-0.9 + 1.8 * R.uniform());
      break;
    case Domain::Fraction:
      X = static_cast<float>(0.1 + 0.8 * R.uniform());
      break;
    }
  }
  return Out;
}

void gradlint::test::param(OnnxBuilder &B, const std::string &Name,
                           const std::vector<int64_t> &Shape, Domain D,
                           unsigned Seed) {
  unsigned S = Seed;
  for (char C : Name)
    S = S * 31 + static_cast<unsigned char>(C);
  B.floatInit(Name, Shape, randomValues(Shape, D, S));
}

void gradlint::test::boolInit(OnnxBuilder &B, const std::string &Name,
                              const std::vector<int64_t> &Shape,
                              const std::vector<bool> &Values) {
  std::string Raw;
  for (bool V : Values)
    Raw.push_back(V ? 1 : 0);
  B.rawInit(Name, 9, Shape, Raw);
}

namespace {

struct Fixture {
  std::unique_ptr<Model> M;
  std::unique_ptr<Backend> B;
  std::unique_ptr<Executor> E;
  ValueId Y = NoId;
  std::vector<double> R;
};

std::vector<float> download(Backend &B, const Tensor &T) {
  std::vector<float> Out(T.size());
  B.download(Out.data(), T.Buf->base(), T.Offset * 4, Out.size() * 4);
  return Out;
}

double lossAt(Fixture &F) {
  if (llvm::Error E = F.E->forward())
    FAIL(llvm::toString(std::move(E)));
  std::vector<float> Y = download(*F.B, *F.E->value(F.Y));
  double L = 0;
  for (size_t I = 0; I != Y.size(); ++I)
    L += F.R[I] * Y[I];
  return L;
}

} // namespace

std::string gradlint::test::checkGradients(const GradCase &Case,
                                           std::vector<std::string> *Parameters) {
  OnnxBuilder Builder(Case.Opset);
  for (const auto &[Domain, V] : Case.ExtraOpsets)
    Builder.opset(Domain, V);
  Case.Build(Builder);
  Builder.output("y");
  std::string Dir = makeTempDir("gradcheck");
  std::string Path = Builder.writeTo(Dir + "/m.onnx");
  Fixture F;
  auto M = loadModel(Path);
  std::system(("rm -rf '" + Dir + "'").c_str());
  if (!M)
    return llvm::toString(M.takeError());
  F.M = std::move(*M);
  auto S = inferShapes(*F.M, {});
  if (!S)
    return llvm::toString(S.takeError());
  F.Y = F.M->G.findValue("y");
  F.B = createCPUBackend(2);
  ExecutorOptions O;
  O.LossOutputs = {F.Y};
  auto E = Executor::create(*F.M, *F.B, O);
  if (!E)
    return llvm::toString(E.takeError());
  F.E = std::move(*E);
  if (llvm::Error Err = F.E->forward())
    return llvm::toString(std::move(Err));
  const Tensor *Y = F.E->value(F.Y);
  Rng RR(7);
  for (int64_t I = 0; I < Y->size(); ++I)
    F.R.push_back(RR.normal());
  auto Seed = F.E->allocate(Y->Shape);
  if (!Seed)
    return llvm::toString(Seed.takeError());
  std::vector<float> RF(F.R.begin(), F.R.end());
  F.B->upload(Seed->Buf->base(), 0, RF.data(), RF.size() * 4);
  if (llvm::Error Err = F.E->backward(F.Y, *Seed))
    return llvm::toString(std::move(Err));
  // Every float initializer but the declared constants must be a parameter.
  for (ValueId V : F.M->G.Initializers) {
    const std::string &Name = F.M->G.Values[V].Name;
    bool Constant = llvm::is_contained(Case.Constants, Name);
    bool Param = llvm::is_contained(F.E->parameters(), V);
    if (isFloatingPoint(F.M->G.Values[V].Type) && Constant == Param)
      return "initializer '" + Name + (Param ? "' got a gradient" : "' got no gradient");
  }
  for (ValueId P : F.E->parameters()) {
    const std::string &Name = F.M->G.Values[P].Name;
    if (Parameters)
      Parameters->push_back(Name);
    const Tensor *GT = F.E->gradient(P);
    if (!GT)
      return Name + ": no gradient";
    std::vector<float> G = download(*F.B, *GT);
    Tensor *WT = F.E->initializer(P);
    std::vector<float> W = download(*F.B, *WT);
    double GN = 0;
    for (float X : G)
      GN += double(X) * X;
    GN = std::sqrt(GN);
    for (unsigned K = 0; K != 3; ++K) {
      // Direction: the gradient, then two random ones; ‖step‖ = 1e-2.
      std::vector<double> V(W.size());
      Rng DR(100 + K);
      for (size_t I = 0; I != V.size(); ++I)
        V[I] = K == 0 && GN > 0 ? G[I] : DR.normal();
      double VN = 0;
      for (double X : V)
        VN += X * X;
      VN = std::sqrt(VN);
      std::vector<float> Plus(W.size()), Minus(W.size());
      for (size_t I = 0; I != W.size(); ++I) {
        Plus[I] = static_cast<float>(W[I] + 1e-2 * V[I] / VN);
        Minus[I] = static_cast<float>(W[I] - 1e-2 * V[I] / VN);
      }
      double An = 0, DN = 0;
      for (size_t I = 0; I != W.size(); ++I) {
        double D = double(Plus[I]) - Minus[I];
        An += G[I] * D;
        DN += D * D;
      }
      DN = std::sqrt(DN);
      F.B->upload(WT->Buf->base(), WT->Offset * 4, Plus.data(), Plus.size() * 4);
      double LP = lossAt(F);
      F.B->upload(WT->Buf->base(), WT->Offset * 4, Minus.data(), Minus.size() * 4);
      double LM = lossAt(F);
      F.B->upload(WT->Buf->base(), WT->Offset * 4, W.data(), W.size() * 4);
      double Fd = LP - LM;
      double Allowed = Case.Tol * GN * DN + 1e-6 * DN;
      if (!(std::fabs(Fd - An) <= Allowed))
        return Name + ": direction " + std::to_string(K) + ": finite difference " +
               std::to_string(Fd) + ", gradient " + std::to_string(An) +
               " (|g| " + std::to_string(GN) + ", allowed error " +
               std::to_string(Allowed) + ")";
    }
  }
  return "";
}

void gradlint::test::checkTable(const std::vector<GradCase> &Cases) {
  std::string Failures;
  for (const GradCase &C : Cases) {
    std::string Why = checkGradients(C);
    if (!Why.empty())
      Failures += C.Name + ": " + Why + "\n";
  }
  INFO(Failures);
  CHECK(Failures.empty());
}
