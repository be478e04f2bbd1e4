//===- CUDAExecutorTest.cpp - whole graphs on CUDA against the CPU --------===//
//
// Op level: every ONNX node test the CPU executor runs is run on both
// backends, forward (every output) and backward (the gradient of every float
// input for L = Σ r ⊙ y0, r fixed); results agree within 1e-4 of each
// tensor's largest magnitude. Model level: the probe on every zoo model,
// CUDA against CPU: the loss, every parameter's and activation's gradient
// norm, and one SGD step's loss and update ratios, within 1e-4 relative.
//
//===----------------------------------------------------------------------===//
#include "CUDATest.h"
#include "TestPaths.h"
#include "Zoo.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Probe/Executor.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Random.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <catch2/catch.hpp>
#include <cmath>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::test;

namespace {

constexpr double Tol = 1e-4;

/// What one backend computed for a node test.
struct BackendRun {
  std::string Error; ///< "" when forward (and backward, if asked) ran
  std::vector<std::vector<float>> Outputs;
  std::vector<std::vector<float>> InputGrads; ///< per float input; may be empty
  bool Backward = false;
};

std::vector<float> download(Backend &B, const Tensor &T) {
  std::vector<float> Out(T.size());
  B.download(Out.data(), T.Buf->base(), T.Offset * 4, Out.size() * 4);
  return Out;
}

/// Runs a node-test folder on B: the test's inputs, forward, and backward
/// from the first output when it is float.
BackendRun runFolder(const std::string &F, Backend &B, bool Gradients) {
  BackendRun R;
  auto M = loadModel(F + "/model.onnx");
  if (!M) {
    R.Error = "load: " + llvm::toString(M.takeError());
    return R;
  }
  const Graph &G = (*M)->G;
  DimBindings Dims;
  InputValues Known;
  std::vector<LoadedTensor> Inputs;
  for (size_t I = 0; I != G.Inputs.size(); ++I) {
    const Value &V = G.Values[G.Inputs[I]];
    auto T = loadTensorFile(F + "/test_data_set_0/input_" + std::to_string(I) + ".pb");
    if (!V.NonTensorKind.empty() || !T) {
      if (!T)
        llvm::consumeError(T.takeError());
      R.Error = "input " + std::to_string(I);
      return R;
    }
    for (size_t A = 0; A < V.DeclaredShape.size() && A < T->Tensor.Shape.size(); ++A)
      if (!V.DeclaredShape[A].Symbol.empty())
        Dims[V.DeclaredShape[A].Symbol] = T->Tensor.Shape[A];
    if (!isFloatingPoint(V.Type)) {
      auto H = std::make_shared<HostTensor>();
      H->Type = T->Tensor.Type;
      H->Shape = T->Tensor.Shape;
      if (!T->Tensor.toInt64s(H->Ints)) {
        R.Error = "integer input";
        return R;
      }
      Known[V.Name] = H;
    } else if (auto H = hostTensorOf(T->Tensor)) {
      Known[V.Name] = H;
    }
    Inputs.push_back(std::move(*T));
  }
  auto Shapes = inferShapes(**M, Dims, Known);
  if (!Shapes) {
    R.Error = "shapes: " + llvm::toString(Shapes.takeError());
    return R;
  }
  ValueId Out0 = G.Outputs.empty() ? NoId : G.Outputs[0];
  ExecutorOptions O;
  O.Gradients = Gradients && Out0 != NoId && isFloatingPoint(G.Values[Out0].Type);
  O.KeepAllValues = false;
  if (O.Gradients)
    O.LossOutputs = {Out0};
  auto E = Executor::create(**M, B, O);
  if (!E) {
    R.Error = llvm::toString(E.takeError());
    return R;
  }
  for (size_t I = 0; I != G.Inputs.size(); ++I) {
    ValueId V = G.Inputs[I];
    llvm::Error Err = llvm::Error::success();
    if (isFloatingPoint(G.Values[V].Type)) {
      std::vector<float> Data;
      if (!Inputs[I].Tensor.toFloats(Data)) {
        llvm::consumeError(std::move(Err));
        R.Error = "float input";
        return R;
      }
      Err = (*E)->setInput(V, Data);
    } else {
      Err = (*E)->setInput(V, Known[G.Values[V].Name]);
    }
    if (Err) {
      R.Error = llvm::toString(std::move(Err));
      return R;
    }
  }
  if (llvm::Error Err = (*E)->forward()) {
    R.Error = llvm::toString(std::move(Err));
    return R;
  }
  for (ValueId Out : G.Outputs) {
    auto H = (*E)->fetch(Out);
    if (!H) {
      R.Error = llvm::toString(H.takeError());
      return R;
    }
    std::vector<float> V(H->size());
    for (size_t K = 0; K != V.size(); ++K)
      V[K] = static_cast<float>(H->real(K));
    R.Outputs.push_back(std::move(V));
  }
  if (!O.Gradients)
    return R;
  const Tensor *Y = (*E)->value(Out0);
  if (!Y)
    return R; // a folded constant: nothing to differentiate
  std::vector<float> Seed(Y->size());
  Rng RR(7);
  for (float &X : Seed)
    X = static_cast<float>(RR.normal());
  auto ST = (*E)->allocate(Y->Shape);
  if (!ST) {
    R.Error = llvm::toString(ST.takeError());
    return R;
  }
  B.upload(ST->Buf->base(), 0, Seed.data(), Seed.size() * 4);
  if (llvm::Error Err = (*E)->backward(Out0, *ST)) {
    R.Error = "backward: " + llvm::toString(std::move(Err));
    return R;
  }
  R.Backward = true;
  for (ValueId V : G.Inputs) {
    const Tensor *GT = isFloatingPoint(G.Values[V].Type) ? (*E)->gradient(V) : nullptr;
    R.InputGrads.push_back(GT ? download(B, *GT) : std::vector<float>());
  }
  return R;
}

std::vector<std::string> nodeTestFolders() {
  std::vector<std::string> Out;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(nodeTestsDir(), EC), End;
       It != End && !EC; It.increment(EC))
    if (llvm::sys::path::filename(It->path()).startswith("test_"))
      Out.push_back(It->path());
  std::sort(Out.begin(), Out.end());
  return Out;
}

/// |A - E| <= Tol * max(|E|, Floor), for norms and losses.
bool closeScalar(double A, double E, double Floor = 1e-30) {
  if ((std::isnan(A) && std::isnan(E)) || A == E)
    return true;
  return std::fabs(A - E) <= Tol * std::max(std::fabs(E), Floor);
}

} // namespace

TEST_CASE("cuda probe: the ONNX node tests, forward and backward, match the "
          "CPU backend",
          "[cuda]") {
  auto Gpu = cudaBackendOrSkip();
  if (!pathExists(nodeTestsDir()))
    GRADLINT_SKIP(nodeTestsDir() << " not found");
  auto Cpu = createCPUBackend(2);
  unsigned Forward = 0, Backward = 0;
  std::string Failures;
  for (const std::string &F : nodeTestFolders()) {
    std::string Name = llvm::sys::path::filename(F).str();
    // Gradients where the CPU executor can take them, else forward only.
    bool Grad = true;
    BackendRun C = runFolder(F, *Cpu, true);
    if (!C.Error.empty()) {
      Grad = false;
      C = runFolder(F, *Cpu, false);
    }
    if (!C.Error.empty())
      continue; // the CPU executor does not run it (NodeTestsExceptions.inc)
    BackendRun G = runFolder(F, *Gpu, Grad);
    if (!G.Error.empty()) {
      Failures += Name + ": cuda: " + G.Error + "\n";
      continue;
    }
    std::string Why;
    for (size_t I = 0; I != C.Outputs.size(); ++I)
      if (!closeRelative(G.Outputs[I], C.Outputs[I], Tol, Why))
        Failures += Name + ": output " + std::to_string(I) + ": " + Why + "\n";
    ++Forward;
    if (!C.Backward)
      continue;
    ++Backward;
    for (size_t I = 0; I != C.InputGrads.size(); ++I) {
      if (C.InputGrads[I].empty() != G.InputGrads[I].empty())
        Failures += Name + ": input " + std::to_string(I) +
                    ": a gradient on one backend only\n";
      else if (!closeRelative(G.InputGrads[I], C.InputGrads[I], Tol, Why))
        Failures += Name + ": gradient of input " + std::to_string(I) + ": " +
                    Why + "\n";
    }
  }
  INFO(Failures);
  CHECK(Failures.empty());
  // The CPU executor runs 741 folders; gradients flow in 636 of them.
  CHECK(Forward >= 700);
  CHECK(Backward >= 600);
  WARN("compared " << Forward << " node tests forward, " << Backward
                   << " backward");
}

TEST_CASE("cuda probe: zoo gradient norms match the CPU probe",
          "[cuda][zoo]") {
  requireCudaOrSkip();
  std::string Failures;
  unsigned Models = 0, Norms = 0;
  for (const ZooModel &Z : zooModels()) {
    ProbeResult R[2];
    bool Ok = true;
    for (int D = 0; D != 2 && Ok; ++D) {
      auto M = loadModel(Z.modelPath());
      REQUIRE(static_cast<bool>(M));
      ProbeOptions O;
      O.Device = D ? "cuda" : "cpu";
      O.Dims = Z.dims();
      O.Activations = true;
      O.Steps = 1;
      O.LearningRate = 1e-2;
      auto P = runProbe(**M, O);
      if (!P) {
        std::string Why = llvm::toString(P.takeError());
        if (D)
          Failures += Z.Name + ": cuda: " + Why + "\n";
        Ok = false; // the CPU probe cannot run it either: not our concern
        continue;
      }
      R[D] = std::move(*P);
    }
    if (!Ok)
      continue;
    ++Models;
    const ProbeResult &C = R[0], &G = R[1];
    auto Check = [&](const std::string &What, double A, double E) {
      ++Norms;
      if (!closeScalar(A, E))
        Failures += Z.Name + ": " + What + ": cuda " + std::to_string(A) +
                    ", cpu " + std::to_string(E) + "\n";
    };
    Check("loss", G.Loss0, C.Loss0);
    if (G.Parameters.size() != C.Parameters.size()) {
      Failures += Z.Name + ": parameter lists differ\n";
      continue;
    }
    // Relative to the largest gradient norm of the model: a norm that is
    // 1e-9 of the others carries float32 noise of its own.
    double Largest = 0;
    for (const ParamGrad &P : C.Parameters)
      Largest = std::max(Largest, P.GradNorm);
    for (size_t I = 0; I != C.Parameters.size(); ++I) {
      const ParamGrad &PC = C.Parameters[I], &PG = G.Parameters[I];
      ++Norms;
      if (PC.Name != PG.Name)
        Failures += Z.Name + ": parameter " + PC.Name + " vs " + PG.Name + "\n";
      else if (!closeScalar(PG.GradNorm, PC.GradNorm, 1e-6 * Largest))
        Failures += Z.Name + ": |dL/d" + PC.Name + "|: cuda " +
                    std::to_string(PG.GradNorm) + ", cpu " +
                    std::to_string(PC.GradNorm) + "\n";
    }
    double LargestAct = 0;
    for (const auto &[Name, Norm] : C.ActivationGradNorms)
      LargestAct = std::max(LargestAct, Norm);
    for (const auto &[Name, Norm] : C.ActivationGradNorms) {
      auto It = G.ActivationGradNorms.find(Name);
      ++Norms;
      if (It == G.ActivationGradNorms.end())
        Failures += Z.Name + ": no activation gradient for " + Name + " on cuda\n";
      else if (!closeScalar(It->second, Norm, 1e-6 * LargestAct))
        Failures += Z.Name + ": |dL/d" + Name + "|: cuda " +
                    std::to_string(It->second) + ", cpu " + std::to_string(Norm) +
                    "\n";
    }
    if (C.Steps.size() == 1 && G.Steps.size() == 1) {
      Check("loss after one SGD step", G.Steps[0].Loss, C.Steps[0].Loss);
      const auto &RC = C.Steps[0].UpdateRatios, &RG = G.Steps[0].UpdateRatios;
      for (size_t I = 0; I != RC.size() && I != RG.size(); ++I)
        Check("update ratio of " + RC[I].first, RG[I].second, RC[I].second);
    }
  }
  INFO(Failures);
  CHECK(Failures.empty());
  CHECK(Models >= 40);
  WARN("compared " << Models << " zoo models, " << Norms << " values");
}
