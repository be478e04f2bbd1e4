//===- CheckJson.cpp - `gradlint check --format json` ---------------------===//
//
// Schema gradlint.check/1 (DESIGN §6). Fields may be added; none may change
// meaning without a new schema version.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Report/Check.h"
#include "gradlint/Report/Inspect.h"
#include <cmath>

using namespace gradlint;

static llvm::json::Value number(double V) {
  return std::isfinite(V) ? llvm::json::Value(V) : llvm::json::Value(nullptr);
}

llvm::json::Object gradlint::boundJson(const Bound &B) {
  return llvm::json::Object{
      {"lo", number(B.Lo)}, {"est", number(B.Est)}, {"hi", number(B.Hi)}};
}

static llvm::StringRef fp32Name(Float32Outcome O) {
  switch (O) {
  case Float32Outcome::Normal: return "normal";
  case Float32Outcome::Underflow: return "underflow";
  case Float32Outcome::Noise: return "noise";
  }
  return "normal";
}

static llvm::json::Value orNull(const std::string &S) {
  return S.empty() ? llvm::json::Value(nullptr) : llvm::json::Value(S);
}

static llvm::json::Value blockOrNull(int Block) {
  return Block < 0 ? llvm::json::Value(nullptr) : llvm::json::Value(Block);
}

static llvm::json::Value gradOf(const CheckReport &R, ValueId V) {
  if (V == NoId || V >= R.A.Backward.size() || !R.A.Backward[V].Reached)
    return nullptr;
  return boundJson(R.A.Backward[V].Norm);
}

static llvm::json::Array blocks(const CheckReport &R) {
  llvm::json::Array Out = blocksJson(R.M, R.S);
  for (size_t I = 0; I < Out.size() && I < R.S.Blocks.size(); ++I) {
    const BlockInfo &B = R.S.Blocks[I];
    llvm::json::Object *O = Out[I].getAsObject();
    ValueId In = B.Residuals.empty() ? NoId : B.Residuals.front().Skip;
    ValueId Res = B.Residuals.empty() ? NoId : B.Residuals.back().Output;
    if (B.Norm == NormPlacement::Post && !B.Norms.empty() && Res != NoId)
      Res = B.Norms.back().Output;
    (*O)["stream_grad_norm"] = llvm::json::Object{{"input", gradOf(R, In)},
                                                  {"output", gradOf(R, Res)}};
  }
  return Out;
}

static llvm::json::Array parameters(const CheckReport &R) {
  llvm::json::Array Out;
  for (const ParameterPrediction &P : R.A.Parameters) {
    ModelStructure::Role Role = R.S.roleOf(R.M, P.Name);
    llvm::json::Array Shape;
    for (int64_t D : P.Shape)
      Shape.push_back(D);
    llvm::json::Object O{
        {"name", P.Name},
        {"shape", std::move(Shape)},
        {"block", blockOrNull(Role.Block)},
        {"role", orNull(Role.Kind)},
        {"description", orNull(Role.Phrase)},
        {"grad_norm", boundJson(P.GradNorm)},
        {"lipschitz", number(P.Lipschitz)},
        {"weight_norm", number(P.WeightNorm)},
        {"fp32", fp32Name(P.Fp32)},
    };
    if (!P.Parent.empty())
      O["parent"] = P.Parent;
    Out.push_back(std::move(O));
  }
  return Out;
}

static llvm::json::Object findingJson(const Finding &F) {
  llvm::json::Array Remedies;
  for (const std::string &S : F.Remedies)
    Remedies.push_back(S);
  return llvm::json::Object{
      {"rule", F.Code},
      {"name", F.Name},
      {"severity", severityName(F.Level)},
      {"message", F.Message},
      {"node", orNull(F.Node)},
      {"block", blockOrNull(F.Block)},
      {"parameter", orNull(F.Parameter)},
      {"evidence", llvm::json::Object(F.Evidence)},
      {"remediation", std::move(Remedies)},
      {"fingerprint", F.fingerprint()},
  };
}

llvm::json::Object gradlint::checkJson(const CheckReport &R) {
  llvm::json::Array Findings, Unknown, Rules;
  unsigned Counts[3] = {0, 0, 0};
  for (const Finding &F : R.Findings) {
    Findings.push_back(findingJson(F));
    ++Counts[static_cast<unsigned>(F.Level)];
  }
  for (const std::string &Op : R.A.UnknownOps)
    Unknown.push_back(Op);
  for (const Rule *Ru : R.Enabled)
    Rules.push_back(Ru->Code);
  llvm::json::Object Loss{{"kind", lossName(R.A.Setup.Loss)},
                          {"rows", R.A.Setup.Rows}};
  if (R.A.Setup.Loss == LossKind::CrossEntropy)
    Loss["vocab"] = R.A.Setup.Vocab;
  llvm::json::Object Out{
      {"schema", "gradlint.check/1"},
      {"model", modelJson(R.M, R.Shapes)},
      {"loss", std::move(Loss)},
      {"precision", precisionName(R.Precision)},
      {"coverage", llvm::json::Object{{"share", R.A.Coverage},
                                      {"unknown_ops", std::move(Unknown)}}},
      {"rules", std::move(Rules)},
      {"blocks", blocks(R)},
      {"parameters", parameters(R)},
      {"findings", std::move(Findings)},
      {"summary", llvm::json::Object{{"errors", Counts[2]},
                                     {"warnings", Counts[1]},
                                     {"notes", Counts[0]},
                                     {"suppressed", R.Suppressed},
                                     {"baselined", R.Baselined}}},
  };
  if (R.A.CalibrationPasses)
    Out["calibration"] = llvm::json::Object{{"passes", R.A.CalibrationPasses},
                                            {"values", R.A.CalibratedValues},
                                            {"softmax", R.A.CalibratedSoftmax}};
  return Out;
}
