//===- CalibrationTest.cpp - `--calibrate`: measured forward statistics ---===//
//
// The analysis with AnalysisOptions::Calibrated takes measured summaries in
// place of its own, and the gradients follow (closed forms below);
// measureCalibration's statistics obey what a forward pass must give
// (LayerNorm rows of unit variance, a causal softmax's first row one-hot,
// rows summing to one); the CLI reports the calibration and fails, as one
// line, where the probe cannot run the model.
//
//===----------------------------------------------------------------------===//
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Loader/Loader.h"
#include "llvm/Support/JSON.h"
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>

using namespace gradlint;
using namespace gradlint::test;

namespace {
constexpr int32_t F32 = 1;

ValueId valueNamed(const Model &M, llvm::StringRef Name) {
  for (ValueId V = 0; V != M.G.Values.size(); ++V)
    if (M.G.Values[V].Name == Name)
      return V;
  FAIL("no value " << Name.str());
  return NoId;
}

const ParameterPrediction &parameter(const AnalysisResult &R, llvm::StringRef Name) {
  for (const ParameterPrediction &P : R.Parameters)
    if (P.Name == Name)
      return P;
  FAIL("no prediction for " << Name.str());
  return R.Parameters.front();
}

std::unique_ptr<Model> tinyGpt() {
  auto M = loadModel(std::string(GRADLINT_SOURCE_DIR) + "/examples/tiny-gpt.onnx");
  REQUIRE(bool(M));
  return std::move(*M);
}
} // namespace

// y = relu(x) W, x standard normal [N, K], projection loss L = Σ r ⊙ y / N:
// dW = relu(x)ᵀ r / N, so E‖dW‖² = K·M·E[h²]/N exactly (r independent, zero
// mean, unit variance). Static: E[h²] = 1/2. Calibrated with h of variance 8
// and mean 0: E[h²] = 8, and the prediction must move with it.
TEST_CASE("calibration: measured summaries replace static ones, gradients follow",
          "[analysis][calibrate]") {
  const int64_t N = 256, K = 8, Mo = 4;
  std::string Dir = makeTempDir("calibrate");
  OnnxBuilder B;
  std::vector<float> W(K * Mo);
  for (size_t I = 0; I != W.size(); ++I)
    W[I] = 0.1f * float(int(I % 7) - 3);
  B.input("x", F32, {N, K})
      .floatInit("w", {K, Mo}, W)
      .node("Relu", {"x"}, {"h"})
      .node("MatMul", {"h", "w"}, {"y"})
      .output("y");
  auto M = loadModel(B.writeTo(Dir + "/m.onnx"));
  REQUIRE(bool(M));
  REQUIRE(bool(inferShapes(**M, {})));
  ValueId H = valueNamed(**M, "h");

  auto Static = analyze(**M);
  REQUIRE(bool(Static));
  CHECK(parameter(*Static, "w").GradNorm.Est ==
        Approx(std::sqrt(K * Mo * 0.5 / N)).epsilon(0.15));
  CHECK(Static->CalibrationPasses == 0);

  auto C = std::make_shared<Calibration>();
  C->Passes = 1;
  ValueSummary S;
  S.Rows = N, S.Features = K;
  S.Mean.assign(K, 0.0);
  S.Var.assign(K, 8.0);
  S.Min = -10, S.Max = 10;
  C->Values[H] = S;
  AnalysisOptions O;
  O.Calibrated = C;
  auto Cal = analyze(**M, O);
  REQUIRE(bool(Cal));
  CHECK(Cal->Forward[H].Var[0] == 8.0);
  CHECK(Cal->Forward[H].Mean[0] == 0.0);
  CHECK(Cal->CalibratedValues == 1);
  CHECK(Cal->CalibrationPasses == 1);
  CHECK(parameter(*Cal, "w").GradNorm.Est ==
        Approx(std::sqrt(K * Mo * 8.0 / N)).epsilon(0.15));

  // A summary measured at another shape is not taken.
  auto Wrong = std::make_shared<Calibration>(*C);
  Wrong->Values[H].Rows = N / 2;
  O.Calibrated = Wrong;
  auto Kept = analyze(**M, O);
  REQUIRE(bool(Kept));
  CHECK(Kept->CalibratedValues == 0);
  CHECK(Kept->Forward[H].Var[0] == Approx(Static->Forward[H].Var[0]));
  std::system(("rm -rf '" + Dir + "'").c_str());
}

TEST_CASE("calibration: a forward pass's statistics of tiny-gpt", "[analysis][calibrate]") {
  auto M = tinyGpt();
  DimBindings Dims = {{"batch", 2}, {"sequence", 8}};
  auto C = measureCalibration(*M, Dims, nullptr);
  REQUIRE(bool(C));
  CHECK((*C)->Passes == calibrationPasses(2 * 8)); // 16 tokens a pass
  CHECK((*C)->Passes == 16);

  // LayerNorm at initialization (γ = 1, β = 0): each row has mean 0 and
  // variance σ²/(σ² + ε), so E x² over the row is just under 1.
  const ValueSummary &Ln = (*C)->Values.at(valueNamed(*M, "/h.0/ln_1/LayerNormalization_output_0"));
  CHECK(Ln.Rows == 16);
  CHECK(Ln.meanSquare() == Approx(1.0).epsilon(1e-3));
  CHECK(Ln.meanSquare() <= 1.0);

  // Causal attention: row 0 sees one key (p = 1); every row sums to one.
  REQUIRE((*C)->Softmax.size() == 2); // one per block
  for (const auto &[V, Rows] : (*C)->Softmax) {
    REQUIRE(Rows.SumP2.size() == 8);
    CHECK(Rows.SumP2[0] == Approx(1.0).epsilon(1e-6));
    CHECK(Rows.SumP3[0] == Approx(1.0).epsilon(1e-6));
    CHECK(Rows.MaxP[0] == Approx(1.0).epsilon(1e-6));
    double Total = 0;
    for (double X : Rows.ColSum)
      Total += X;
    CHECK(Total == Approx(8.0).epsilon(1e-5)); // Σ over rows of Σ_j p = Tq
    for (size_t I = 1; I != Rows.SumP2.size(); ++I) {
      // Σp² lies between 1/(keys seen) and 1.
      CHECK(Rows.SumP2[I] >= 1.0 / (I + 1) - 1e-6);
      CHECK(Rows.SumP2[I] <= 1.0 + 1e-6);
      CHECK(Rows.MaxP[I] * Rows.MaxP[I] <= Rows.SumP2[I] + 1e-6);
    }
  }

  // Analysed with it: the softmax facts are the measured ones.
  REQUIRE(bool(inferShapes(*M, Dims)));
  AnalysisOptions O;
  O.Calibrated = *C;
  auto R = analyze(*M, O);
  REQUIRE(bool(R));
  CHECK(R->CalibratedSoftmax == 2);
  CHECK(R->CalibratedValues > 50);
  for (const auto &[V, Rows] : (*C)->Softmax) {
    NodeId P = M->G.Values[V].Producer;
    double Mean = 0;
    for (double X : Rows.SumP2)
      Mean += X / Rows.SumP2.size();
    CHECK(R->Facts[P].SoftmaxSumP2 == Approx(Mean).epsilon(1e-12));
  }
}

TEST_CASE("cli: check --calibrate reports it, deterministically", "[cli][calibrate]") {
  std::string Model = std::string(GRADLINT_SOURCE_DIR) + "/examples/tiny-gpt.onnx";
  Run A = runGradlint("check --calibrate --format json " + Model);
  Run B = runGradlint("check --calibrate --format json " + Model);
  Run Plain = runGradlint("check --format json " + Model);
  INFO(A.Err);
  REQUIRE(A.Code == 0);
  CHECK(A.Out == B.Out);
  auto J = llvm::json::parse(A.Out);
  REQUIRE(bool(J));
  const llvm::json::Object *Cal = J->getAsObject()->getObject("calibration");
  REQUIRE(Cal);
  // Default dims: batch 1 × sequence 128, so 4 passes make 512 tokens.
  CHECK(Cal->getInteger("passes") == llvm::Optional<int64_t>(4));
  CHECK(Cal->getInteger("softmax") == llvm::Optional<int64_t>(2));
  auto P = llvm::json::parse(Plain.Out);
  REQUIRE(bool(P));
  CHECK(!P->getAsObject()->getObject("calibration"));
  CHECK(A.Out != Plain.Out);

  // validate scores the calibrated predictions: its est are check's.
  Run V = runGradlint("validate --calibrate --seeds 1 --format json " + Model);
  INFO(V.Err);
  REQUIRE(V.Code == 0);
  auto VJ = llvm::json::parse(V.Out);
  REQUIRE(bool(VJ));
  CHECK(VJ->getAsObject()->getBoolean("calibrated") == llvm::Optional<bool>(true));
  std::map<std::string, double> CheckEst;
  for (const llvm::json::Value &X : *J->getAsObject()->getArray("parameters"))
    CheckEst[X.getAsObject()->getString("name")->str()] =
        *X.getAsObject()->getObject("grad_norm")->getNumber("est");
  unsigned Compared = 0;
  for (const llvm::json::Value &X : *VJ->getAsObject()->getArray("parameters")) {
    std::string Name = X.getAsObject()->getString("name")->str();
    REQUIRE(CheckEst.count(Name));
    CHECK(*X.getAsObject()->getObject("grad_norm")->getNumber("est") ==
          Approx(CheckEst[Name]).epsilon(1e-12));
    ++Compared;
  }
  CHECK(Compared >= 10);
}

TEST_CASE("cli: --calibrate on a model the probe cannot run is one error line",
          "[cli][calibrate]") {
  std::string Dir = makeTempDir("calibrate-cli");
  OnnxBuilder B;
  B.opset("com.example", 1)
      .input("x", F32, {int64_t(4), int64_t(8)})
      .floatInit("w", {8, 8}, std::vector<float>(64, 0.1f))
      .node("MatMul", {"x", "w"}, {"h"})
      .node("Frobnicate", {"h"}, {"y"}, {}, "com.example")
      .output("y", F32, {int64_t(4), int64_t(8)});
  std::string Model = B.writeTo(Dir + "/unknown-op.onnx");
  Run Plain = runGradlint("check " + Model);
  CHECK(Plain.Code == 0); // the static analysis passes an unknown op through
  Run R = runGradlint("check --calibrate " + Model);
  CHECK(R.Code == 2);
  CHECK(R.Out.empty());
  CHECK(std::count(R.Err.begin(), R.Err.end(), '\n') == 1);
  CHECK(R.Err.find(Model + ": --calibrate") != std::string::npos);
  CHECK(R.Err.find("Frobnicate") != std::string::npos);
  std::system(("rm -rf '" + Dir + "'").c_str());
}
