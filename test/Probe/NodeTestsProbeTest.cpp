//===- NodeTestsProbeTest.cpp - the executor against the ONNX node tests --===//
//
// Every model in ../shared/onnx-node-tests runs through the probe's executor
// (CPU backend, float32) with the test's own inputs; each output must match
// output_K.pb as numpy.testing.assert_allclose(rtol=1e-3, atol=1e-7) does
// (NaN equals NaN, infinities must match). Integer inputs are given to shape
// inference as known values, as the probe does, so integer subgraphs fold on
// the host. The folders that cannot pass are listed below with the reason;
// the pass count is asserted so that it cannot drop silently.
//
//===----------------------------------------------------------------------===//
#include "TestPaths.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Probe/Executor.h"
#include "gradlint/Shape/ShapeInference.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>

using namespace gradlint;
using namespace gradlint::probe;
using namespace gradlint::test;

namespace {

/// Folders the executor does not pass, and why. Keys are folder names.
const std::map<std::string, std::string> &expectedFailures() {
  static const std::map<std::string, std::string> Known = {
#include "NodeTestsExceptions.inc"
  };
  return Known;
}

std::string pbPath(const std::string &Folder, const char *Kind, size_t I) {
  return Folder + "/test_data_set_0/" + Kind + "_" + std::to_string(I) + ".pb";
}

/// numpy.testing.assert_allclose(Actual, Expected, rtol, atol).
bool allClose(const std::vector<double> &A, const std::vector<double> &E,
              std::string &Why) {
  if (A.size() != E.size()) {
    Why = "sizes differ";
    return false;
  }
  for (size_t I = 0; I != A.size(); ++I) {
    double X = A[I], Y = E[I];
    if (std::isnan(X) && std::isnan(Y))
      continue;
    if (std::isinf(Y) || std::isinf(X)) {
      if (X == Y)
        continue;
    } else if (std::fabs(X - Y) <= 1e-7 + 1e-3 * std::fabs(Y)) {
      continue;
    }
    Why = "element " + std::to_string(I) + " is " + std::to_string(X) +
          ", expected " + std::to_string(Y);
    return false;
  }
  return true;
}

/// Runs one folder; returns "" on success, else why not.
std::string runFolder(const std::string &F, Backend &B) {
  auto M = loadModel(F + "/model.onnx");
  if (!M)
    return "load: " + llvm::toString(M.takeError());
  const Graph &G = (*M)->G;
  DimBindings Dims;
  InputValues Known;
  std::vector<LoadedTensor> Inputs;
  for (size_t I = 0; I != G.Inputs.size(); ++I) {
    const Value &V = G.Values[G.Inputs[I]];
    if (!V.NonTensorKind.empty())
      return "non-tensor input";
    auto T = loadTensorFile(pbPath(F, "input", I));
    if (!T)
      return "input: " + llvm::toString(T.takeError());
    for (size_t A = 0; A < V.DeclaredShape.size() && A < T->Tensor.Shape.size(); ++A)
      if (!V.DeclaredShape[A].Symbol.empty())
        Dims[V.DeclaredShape[A].Symbol] = T->Tensor.Shape[A];
    // As the probe does: every input is known to shape inference (float
    // ones only decide shapes, like Range's bounds; the executor computes
    // float values itself).
    if (!isFloatingPoint(V.Type)) {
      auto H = std::make_shared<HostTensor>();
      H->Type = T->Tensor.Type;
      H->Shape = T->Tensor.Shape;
      if (!T->Tensor.toInt64s(H->Ints))
        return "input " + V.Name + " of type " + dataTypeName(T->Tensor.Type).str();
      Known[V.Name] = H;
    } else if (auto H = hostTensorOf(T->Tensor)) {
      Known[V.Name] = H;
    }
    Inputs.push_back(std::move(*T));
  }
  auto Shapes = inferShapes(**M, Dims, Known);
  if (!Shapes)
    return "shapes: " + llvm::toString(Shapes.takeError());
  ExecutorOptions O;
  O.Gradients = false;
  auto E = Executor::create(**M, B, O);
  if (!E)
    return llvm::toString(E.takeError());
  for (size_t I = 0; I != G.Inputs.size(); ++I) {
    ValueId V = G.Inputs[I];
    llvm::Error Err = llvm::Error::success();
    if (isFloatingPoint(G.Values[V].Type)) {
      std::vector<float> Data;
      if (!Inputs[I].Tensor.toFloats(Data))
        return "input of type " + dataTypeName(Inputs[I].Tensor.Type).str();
      Err = (*E)->setInput(V, Data);
    } else {
      Err = (*E)->setInput(V, Known[G.Values[V].Name]);
    }
    if (Err)
      return llvm::toString(std::move(Err));
  }
  if (llvm::Error Err = (*E)->forward())
    return llvm::toString(std::move(Err));
  for (size_t I = 0; I != G.Outputs.size(); ++I) {
    auto T = loadTensorFile(pbPath(F, "output", I));
    if (!T)
      return "output: " + llvm::toString(T.takeError());
    std::vector<double> Expected;
    if (!T->Tensor.toDoubles(Expected))
      return "expected output of type " + dataTypeName(T->Tensor.Type).str();
    auto H = (*E)->fetch(G.Outputs[I]);
    if (!H)
      return llvm::toString(H.takeError());
    std::vector<double> Actual;
    for (size_t K = 0; K != H->size(); ++K)
      Actual.push_back(H->real(K));
    std::string Why;
    if (!allClose(Actual, Expected, Why))
      return "output " + std::to_string(I) + ": " + Why;
  }
  return "";
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

} // namespace

TEST_CASE("probe: the executor passes the ONNX node tests",
          "[probe][nodetests]") {
  if (!pathExists(nodeTestsDir()))
    GRADLINT_SKIP(nodeTestsDir() << " not found");
  auto B = createCPUBackend(2);
  unsigned Passed = 0;
  std::string Unexpected, Stale;
  std::set<std::string> Seen;
  // GRADLINT_NODETESTS_LOG=FILE writes one line per folder, for maintainers
  // updating NodeTestsExceptions.inc.
  std::unique_ptr<llvm::raw_fd_ostream> Log;
  if (const char *Path = std::getenv("GRADLINT_NODETESTS_LOG")) {
    std::error_code EC;
    Log = std::make_unique<llvm::raw_fd_ostream>(Path, EC);
  }
  for (const std::string &F : nodeTestFolders()) {
    std::string Name = llvm::sys::path::filename(F).str();
    Seen.insert(Name);
    std::string Why = runFolder(F, *B);
    if (Log)
      *Log << Name << "\t" << (Why.empty() ? "pass" : Why) << "\n";
    bool Listed = expectedFailures().count(Name);
    if (Why.empty()) {
      ++Passed;
      if (Listed)
        Stale += Name + " passes but is listed as an exception\n";
    } else if (!Listed) {
      Unexpected += Name + ": " + Why + "\n";
    }
  }
  for (const auto &[Name, Why] : expectedFailures())
    if (!Seen.count(Name))
      Stale += Name + " is listed but not in the node tests\n";
  INFO("failures not in the exception list:\n" << Unexpected);
  CHECK(Unexpected.empty());
  INFO("stale exceptions:\n" << Stale);
  CHECK(Stale.empty());
  CHECK(Seen.size() == 802);
  CHECK(expectedFailures().size() == 69);
  CHECK(Passed == 733);
}
