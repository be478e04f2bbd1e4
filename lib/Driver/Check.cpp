//===- Check.cpp - `gradlint check` ---------------------------------------===//
//
// load → shapes → structure → analysis → rules → config, baseline → report.
// Command-line options win over gradlint.toml, which wins over defaults.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Report/Check.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Driver/Calibrate.h"
#include "gradlint/Driver/Driver.h"
#include "gradlint/Rules/Engine.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Structure/Structure.h"
#include "gradlint/Support/Error.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

using namespace gradlint;

/// The model path as a URI relative to the working directory, as code
/// scanning wants it ('/'-separated, no "./"); absolute outside it.
static std::string artifactUri(llvm::StringRef ModelPath) {
  llvm::SmallString<256> P(ModelPath);
  llvm::sys::path::remove_dots(P, /*remove_dot_dot=*/true);
  if (llvm::sys::path::is_absolute(P)) {
    llvm::SmallString<256> Cwd;
    if (!llvm::sys::fs::current_path(Cwd)) {
      llvm::sys::path::remove_dots(Cwd, true);
      llvm::StringRef Rel(P);
      if (Rel.consume_front(Cwd) && Rel.consume_front("/"))
        return Rel.str();
    }
    return "file://" + std::string(P);
  }
  std::string Out(P);
  std::replace(Out.begin(), Out.end(), '\\', '/');
  return Out;
}

static unsigned failRank(llvm::StringRef FailOn) {
  // The lowest severity that fails: error 2, warning 1, note 0; never 3.
  return FailOn == "error"     ? 2
         : FailOn == "warning" ? 1
         : FailOn == "note"    ? 0
                               : 3;
}

llvm::Expected<int> gradlint::runCheck(const CheckOptions &Opts) {
  static const llvm::StringRef Formats[] = {"text", "json", "sarif", "github"};
  if (!llvm::is_contained(Formats, Opts.Format))
    return makeError(
        "--format must be text, json, sarif or github for check, got '" +
        Opts.Format + "'");
  if (llvm::Error E = checkHtmlOptions(Opts)) // --html, --probe (CheckHtml.cpp)
    return E;
  // Configuration: --config, else the nearest gradlint.toml above the model.
  CheckConfig Config;
  std::string ConfigPath =
      Opts.ConfigPath.empty() ? findConfig(Opts.ModelPath) : Opts.ConfigPath;
  if (!ConfigPath.empty()) {
    auto C = loadConfig(ConfigPath);
    if (!C)
      return C.takeError();
    Config = std::move(*C);
  }
  std::string FailOn =
      !Opts.FailOn.empty() ? Opts.FailOn : Config.FailOn.getValueOr("error");
  if (failRank(FailOn) == 3 && FailOn != "never")
    return makeError("--fail-on must be error, warning, note or never, got '" +
                     FailOn + "'");
  std::string PrecisionText = !Opts.Precision.empty()
                                  ? Opts.Precision
                                  : Config.Precision.getValueOr("fp32");
  llvm::Optional<PrecisionKind> Precision = parsePrecision(PrecisionText);
  if (!Precision)
    return makeError("--precision must be fp32, fp16 or bf16, got '" +
                     PrecisionText + "'");
  LossKind Loss = LossKind::Projection;
  bool ForceLoss = !Opts.Loss.empty() || Config.Loss;
  if (ForceLoss) {
    auto L = parseLossName(!Opts.Loss.empty() ? Opts.Loss : *Config.Loss);
    if (!L)
      return L.takeError();
    Loss = *L;
  }
  std::vector<std::string> None;
  auto Enabled = selectRules(!Opts.Select.empty() ? Opts.Select
                             : Config.Select      ? *Config.Select
                                                  : None,
                             !Opts.Ignore.empty() ? Opts.Ignore
                             : Config.Ignore      ? *Config.Ignore
                                                  : None,
                             "--select/--ignore");
  if (!Enabled)
    return Enabled.takeError();

  DimBindings Dims(Config.Dims.begin(), Config.Dims.end());
  for (const std::string &D : Opts.Dims)
    if (llvm::Error E = parseDimBinding(D, Dims))
      return E;
  AnalysisOptions AOpts;
  AOpts.ForcedLoss = ForceLoss ? &Loss : nullptr;
  auto Analysed = analyseModel(Opts.ModelPath, Dims, AOpts, Opts.Calibrate);
  if (!Analysed)
    return Analysed.takeError();
  Model &Mod = *Analysed->M;
  const ShapeReport &Shapes = Analysed->Shapes;
  const ModelStructure &Structure = Analysed->Structure;
  const AnalysisResult &A = Analysed->A;

  RuleRunOptions ROpts;
  ROpts.Enabled = *Enabled;
  ROpts.Config = &Config;
  ROpts.Precision = *Precision;
  RuleResults Results = runRules(Mod, A, Structure, ROpts);

  if (!Opts.WriteBaselinePath.empty())
    if (llvm::Error E = writeBaseline(Opts.WriteBaselinePath, Opts.ModelPath,
                                      Results.Findings))
      return E;
  unsigned Baselined = 0;
  if (!Opts.BaselinePath.empty()) {
    auto B = readBaseline(Opts.BaselinePath);
    if (!B)
      return B.takeError();
    Baselined = applyBaseline(*B, Results.Findings);
  }

  CheckReport Report(Mod, Shapes, Structure, A);
  Report.Findings = std::move(Results.Findings);
  Report.Enabled = *Enabled;
  Report.DisplayPath = Opts.ModelPath;
  Report.ArtifactUri = artifactUri(Opts.ModelPath);
  Report.Precision = *Precision;
  Report.Suppressed = Results.Suppressed;
  Report.Baselined = Baselined;
  Report.ConfigPath = ConfigPath;

  std::string Out = Opts.OutputPath.empty() ? "-" : Opts.OutputPath;
  if (llvm::Error E = llvm::writeToOutput(Out, [&](llvm::raw_ostream &OS) {
        if (Opts.Format == "text")
          printCheckText(OS, Report);
        else if (Opts.Format == "github")
          printCheckGithub(OS, Report);
        else
          OS << llvm::formatv("{0:2}",
                              llvm::json::Value(Opts.Format == "json"
                                                    ? checkJson(Report)
                                                    : checkSarif(Report)))
             << "\n";
        return llvm::Error::success();
      }))
    return fileError(Out,
                     "cannot write output: " + llvm::toString(std::move(E)));

  // --html: the report, written after the output; the exit code stays the same.
  if (!Opts.HtmlPath.empty())
    if (llvm::Error E = writeCheckHtml(Opts, Mod, Report))
      return E;

  // Recording a baseline accepts the findings it records.
  if (!Opts.WriteBaselinePath.empty())
    return ExitOk;
  unsigned Rank = failRank(FailOn);
  for (const Finding &F : Report.Findings)
    if (static_cast<unsigned>(F.Level) >= Rank)
      return ExitFindings;
  return ExitOk;
}
