//===- HtmlTraining.cpp - the probe: agreement, loss curve, update ratios -===//
#include "HtmlChart.h"
#include "HtmlSupport.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Report/Check.h"
#include <algorithm>
#include <map>

using namespace gradlint;
using namespace gradlint::html;

static void writeAgreement(llvm::raw_ostream &OS, const ReportData &D) {
  const ProbeResult &P = *D.In.Probe;
  unsigned Measured = 0, Inside = 0;
  std::vector<double> Errors;
  for (const ParamRow &Row : D.Rows) {
    if (!Row.Measured)
      continue;
    ++Measured;
    Inside += Row.inBand();
    if (*Row.Measured > 0 && Row.P->GradNorm.Est > 0)
      Errors.push_back(std::fabs(std::log10(*Row.Measured / Row.P->GradNorm.Est)));
  }
  OS << "<dl class=\"facts probe\"><dt>device</dt><dd>" << esc(P.Device) << "</dd><dt>seed</dt><dd>"
     << P.Seed << "</dd><dt>loss</dt><dd>" << esc(P.LossKind) << " = " << num(P.Loss0)
     << " at step 0</dd><dt>measured</dt><dd>" << Measured << " parameters, " << Inside
     << " inside [lo, hi] (" << (Measured ? num(100.0 * Inside / Measured) : "0")
     << "%)</dd>";
  if (!Errors.empty()) {
    std::sort(Errors.begin(), Errors.end());
    double Median = Errors.size() % 2 ? Errors[Errors.size() / 2]
                                      : (Errors[Errors.size() / 2 - 1] + Errors[Errors.size() / 2]) / 2;
    OS << "<dt>typical error</dt><dd>est within \xC3\x97" << num(std::pow(10, Median))
       << " of the measurement (median |log10 measured/est| = " << num(Median) << ")</dd>";
  }
  OS << "</dl>\n";
}

/// ‖ΔW‖/‖W‖ of a block's weights taken together: the norms weighted by
/// ‖W‖, so a large matrix counts for what it is.
static std::map<int, double> blockRatios(const ReportData &D, const StepRecord &S) {
  std::map<std::string, const ParamRow *> ByName;
  for (const ParamRow &Row : D.Rows)
    if (Row.P->Parent.empty())
      ByName[Row.P->Name] = &Row;
  std::map<int, std::pair<double, double>> Sums; // (Σ (r‖W‖)², Σ ‖W‖²)
  std::map<int, std::pair<double, unsigned>> Plain; // (Σ r, count)
  for (auto &[Name, Ratio] : S.UpdateRatios) {
    auto It = ByName.find(Name);
    if (It == ByName.end() || !std::isfinite(Ratio))
      continue;
    int Block = It->second->Block;
    double W = It->second->P->WeightNorm;
    Sums[Block].first += Ratio * Ratio * W * W;
    Sums[Block].second += W * W;
    Plain[Block].first += Ratio;
    ++Plain[Block].second;
  }
  std::map<int, double> Out;
  for (auto &[Block, P] : Plain)
    Out[Block] = Sums[Block].second > 0 ? std::sqrt(Sums[Block].first / Sums[Block].second)
                                        : P.first / P.second;
  return Out;
}

static void writeCurves(llvm::raw_ostream &OS, const ReportData &D) {
  const ProbeResult &P = *D.In.Probe;
  html::ChartSpec Loss;
  Loss.Id = "loss-chart";
  Loss.Title = "loss over the optimizer steps";
  Loss.YLabel = "loss";
  Loss.LogY = false;
  Loss.Height = 260;
  Loss.Legend = false;
  html::ChartSeries L;
  L.Key = "loss";
  L.Label = "loss";
  L.Class = "stream";
  L.Thick = true;
  Loss.Columns.push_back("0");
  L.Points.push_back({0, P.Loss0, NAN, NAN, std::nullopt, "step 0: loss " + num(P.Loss0)});
  for (const StepRecord &S : P.Steps) {
    Loss.Columns.push_back(std::to_string(S.Step));
    L.Points.push_back({unsigned(Loss.Columns.size() - 1), S.Loss, NAN, NAN, std::nullopt,
                        "after step " + std::to_string(S.Step) + ": loss " + num(S.Loss)});
  }
  Loss.Series.push_back(std::move(L));
  OS << "<h3>Loss</h3>\n";
  writeChart(OS, Loss);

  html::ChartSpec U;
  U.Id = "update-chart";
  U.Title = "update ratio per block over the optimizer steps, log scale";
  U.YLabel = "\xE2\x80\x96\xCE\x94W\xE2\x80\x96 / \xE2\x80\x96W\xE2\x80\x96";
  U.Height = 300;
  std::map<int, html::ChartSeries> ByBlock;
  for (size_t I = 0; I < P.Steps.size(); ++I) {
    U.Columns.push_back(std::to_string(P.Steps[I].Step));
    for (auto &[Block, Ratio] : blockRatios(D, P.Steps[I])) {
      html::ChartSeries &S = ByBlock[Block];
      std::string Name = Block < 0 ? "outside blocks" : "block " + std::to_string(Block);
      S.Points.push_back({unsigned(I), Ratio, NAN, NAN, std::nullopt,
                          Name + ", step " + std::to_string(P.Steps[I].Step) +
                              ": \xE2\x80\x96\xCE\x94W\xE2\x80\x96/\xE2\x80\x96W\xE2\x80\x96 = " +
                              num(Ratio)});
    }
  }
  unsigned Blocks = std::max(1u, D.blockCount());
  for (auto &[Block, S] : ByBlock) {
    S.Key = Block < 0 ? "update.outside" : "update." + std::to_string(Block);
    S.Label = Block < 0 ? "outside blocks" : "block " + std::to_string(Block);
    if (Block < 0) {
      S.Class = "stream";
    } else {
      // Blue for the first block through violet to red for the last.
      double Hue = 220 + 140.0 * Block / std::max(1u, Blocks - 1);
      S.Color = "hsl(" + std::to_string(std::lround(Hue) % 360) + ",65%,48%)";
    }
    U.Series.push_back(std::move(S));
  }
  U.Legend = U.Series.size() <= 17;
  if (!U.Legend)
    U.Note = "Blue is the first block, red the last; the grey line gathers the "
             "parameters outside blocks.";
  OS << "<h3>Update ratio per block</h3>\n<p class=\"lead\">\xE2\x80\x96\xCE\x94W\xE2\x80\x96/"
        "\xE2\x80\x96W\xE2\x80\x96 of each step for each block's weights taken together. "
        "A block far below the others barely learns at this learning rate.</p>\n";
  writeChart(OS, U);
}

void html::writeTraining(llvm::raw_ostream &OS, const ReportData &D) {
  if (!D.In.Probe && D.In.ProbeError.empty())
    return;
  OS << "<section id=\"probe\">\n<h2>Probe</h2>\n";
  if (!D.In.Probe) {
    OS << "<p class=\"bad\">The probe did not run: " << esc(D.In.ProbeError) << "</p>\n"
       << "</section>\n";
    return;
  }
  OS << "<p class=\"lead\">Measured by running the model forward and backward with "
        "the same inputs and loss as the analysis";
  if (!D.In.Probe->Steps.empty())
    OS << ", then " << D.In.Probe->Steps.size() << " optimizer steps";
  OS << ".</p>\n";
  writeAgreement(OS, D);
  if (!D.In.Probe->Steps.empty())
    writeCurves(OS, D);
  OS << "</section>\n";
}
