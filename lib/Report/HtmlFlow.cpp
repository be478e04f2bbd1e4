//===- HtmlFlow.cpp - the gradient-flow chart -----------------------------===//
//
// Predicted ‖dL/dW‖ per block and role on a log axis with the [lo, hi] band,
// the residual stream's gradient entering each block, measured values as
// crosses; below it, when fp16/bf16 matters, the per-element RMS against the
// format's normal and subnormal limits.
//
//===----------------------------------------------------------------------===//
#include "HtmlChart.h"
#include "HtmlSupport.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Report/Check.h"
#include <map>

using namespace gradlint;
using namespace gradlint::html;

namespace {
/// The chart's columns: embeddings, blocks, output; index by ParamRow::Column.
struct Columns {
  std::vector<std::string> Labels;
  std::vector<int> Blocks;
  int Embedding = -1, Output = -1, First = 0;

  explicit Columns(const ReportData &D) {
    if (D.HasEmbeddingColumn) {
      Embedding = Labels.size();
      Labels.push_back("emb");
      Blocks.push_back(-1);
    }
    First = Labels.size();
    for (unsigned B = 0; B < D.blockCount(); ++B) {
      Labels.push_back(std::to_string(B));
      Blocks.push_back(B);
    }
    if (D.HasOutputColumn || D.blockCount()) {
      Output = Labels.size();
      Labels.push_back("out");
      Blocks.push_back(-1);
    }
  }
  int of(int Column) const {
    return Column == EmbeddingColumn ? Embedding
           : Column == OutputColumn  ? Output
                                     : First + Column;
  }
  std::string where(int Index) const {
    if (Index == Embedding)
      return "embeddings";
    if (Index == Output)
      return "after the last block";
    return "block " + Labels[Index];
  }
};
} // namespace

/// Series keys in drawing order.
static std::vector<std::string> seriesOrder(const ReportData &D) {
  std::vector<std::string> Keys;
  for (const ParamRow &Row : D.Rows)
    if (!Row.Series.empty() && !llvm::is_contained(Keys, Row.Series))
      Keys.push_back(Row.Series);
  std::stable_sort(Keys.begin(), Keys.end(), [](const std::string &A, const std::string &B) {
    return std::make_pair(seriesRank(A), A) < std::make_pair(seriesRank(B), B);
  });
  return Keys;
}

static double rss(double A, double B) { return std::sqrt(A * A + B * B); }

static std::string boundText(double Est, double Lo, double Hi) {
  return "est " + num(Est) + "  [" + num(Lo) + ", " + num(Hi) + "]";
}

/// Value drawn for a row: the norm itself, or its per-element RMS.
using Scale = double (*)(const ParamRow &);
static double normScale(const ParamRow &) { return 1; }
static double rmsScale(const ParamRow &R) {
  return R.Elements ? 1 / std::sqrt(double(R.Elements)) : 1;
}

/// One point per (series, column): the rows in it combined as the norm of
/// their concatenation, and a tip listing them.
static std::vector<html::ChartSeries> parameterSeries(const ReportData &D,
                                                      const Columns &Cols,
                                                      Scale F, bool Rms) {
  std::vector<html::ChartSeries> Out;
  std::vector<std::string> Keys = seriesOrder(D);
  for (unsigned K = 0; K < Keys.size(); ++K) {
    std::map<int, std::vector<const ParamRow *>> ByColumn;
    for (const ParamRow &Row : D.Rows)
      if (Row.Series == Keys[K])
        ByColumn[Cols.of(Row.Column)].push_back(&Row);
    html::ChartSeries S;
    S.Key = Keys[K];
    S.Label = seriesLabel(Keys[K]);
    S.Class = "c" + std::to_string(K % 12);
    for (auto &[Col, Rows] : ByColumn) {
      if (Col < 0)
        continue;
      html::ChartPoint P;
      P.X = Col;
      double Est = 0, Lo = 0, Hi = 0, Meas = 0;
      bool AllMeasured = true;
      std::string Lines;
      for (const ParamRow *Row : Rows) {
        double M = F(*Row);
        const Bound &B = Row->P->GradNorm;
        Est = rss(Est, B.Est * M);
        Lo = rss(Lo, B.Lo * M);
        Hi = rss(Hi, B.Hi * M);
        if (Row->Measured)
          Meas = rss(Meas, *Row->Measured * M);
        AllMeasured &= Row->Measured.has_value();
        Lines += "\n" + Row->P->Name + ": " + boundText(B.Est * M, B.Lo * M, B.Hi * M);
        if (Row->Measured) {
          Lines += "  measured " + num(*Row->Measured * M);
          if (B.Est > 0)
            Lines += " (x" + num(*Row->Measured / B.Est) + ")";
        }
      }
      P.Y = Est;
      P.Lo = Lo;
      P.Hi = Hi;
      if (AllMeasured && !Rows.empty())
        P.Measured = Meas;
      P.Tip = Cols.where(Col) + " \xC2\xB7 " + S.Label +
              (Rms ? " (per-element RMS)" : "") + Lines;
      S.Points.push_back(std::move(P));
    }
    if (!S.Points.empty())
      Out.push_back(std::move(S));
  }
  return Out;
}

/// The hidden state entering a block: the skip input of its first residual
/// add, else what its first norm or sublayer reads.
static ValueId blockInput(const BlockInfo &B) {
  if (!B.Residuals.empty())
    return B.Residuals.front().Skip;
  if (B.Norm == NormPlacement::Pre && !B.Norms.empty())
    return B.Norms.front().Input;
  if (B.Attention)
    return B.Attention->Input;
  return B.Ffn ? B.Ffn->Input : NoId;
}

/// The residual stream: ‖dL/dx‖ of each block's input, and of the last
/// block's output in the "out" column.
static html::ChartSeries streamSeries(const ReportData &D, const Columns &Cols) {
  const CheckReport &R = D.R;
  html::ChartSeries S;
  S.Key = "stream";
  S.Label = "residual stream";
  S.Class = "stream";
  S.Thick = true;
  auto Add = [&](ValueId V, int Col, const std::string &What) {
    if (V == NoId || V >= R.A.Backward.size() || !R.A.Backward[V].Reached || Col < 0)
      return;
    const Bound &B = R.A.Backward[V].Norm;
    html::ChartPoint P;
    P.X = Col;
    P.Y = B.Est;
    P.Lo = B.Lo;
    P.Hi = B.Hi;
    std::string Name = R.M.G.Values[V].Name;
    P.Tip = What + "\n" + Name + ": " + boundText(B.Est, B.Lo, B.Hi);
    if (D.In.Probe) {
      auto It = D.In.Probe->ActivationGradNorms.find(Name);
      if (It != D.In.Probe->ActivationGradNorms.end()) {
        P.Measured = It->second;
        P.Tip += "  measured " + num(It->second);
      }
    }
    S.Points.push_back(std::move(P));
  };
  const std::vector<BlockInfo> &Blocks = R.S.Blocks;
  bool Residual = llvm::any_of(Blocks, [](const BlockInfo &B) { return !B.Residuals.empty(); });
  if (!Residual)
    S.Label = "block input";
  for (const BlockInfo &B : Blocks)
    Add(blockInput(B), Cols.of(B.Index),
        (B.Residuals.empty() ? "input of block " : "residual stream into block ") +
            std::to_string(B.Index));
  if (!Blocks.empty()) {
    const BlockInfo &B = Blocks.back();
    ValueId Out = !B.Residuals.empty() ? B.Residuals.back().Output
                  : B.Ffn             ? B.Ffn->Output
                  : B.Attention       ? B.Attention->Output
                                      : NoId;
    if (B.Norm == NormPlacement::Post && !B.Norms.empty())
      Out = B.Norms.back().Output;
    Add(Out, Cols.Output,
        B.Residuals.empty() ? "output of the last block" : "residual stream out of the last block");
  }
  return S;
}

struct FormatLimits {
  const char *Name;
  double MinNormal, MinSubnormal;
};

/// The format whose range the per-element chart shows, or null when no
/// gradient comes near it: the training precision, 16-bit weights, a GL105
/// finding, or a gradient element RMS below fp16's normal range.
static const FormatLimits *formatOfInterest(const ReportData &D) {
  static const FormatLimits FP16{"fp16", 6.103515625e-5, 5.9604644775390625e-8};
  static const FormatLimits BF16{"bf16", 1.1754943508222875e-38, 9.183549615799121e-41};
  if (D.R.Precision == PrecisionKind::BF16)
    return &BF16;
  if (D.R.Precision == PrecisionKind::FP16)
    return &FP16;
  for (const Finding &F : D.R.Findings)
    if (F.Code == "GL105")
      return &FP16;
  for (const ParamRow &Row : D.Rows)
    if (!Row.Series.empty() && Row.Elements &&
        Row.P->GradNorm.Est * rmsScale(Row) < FP16.MinNormal)
      return &FP16;
  return nullptr;
}

void html::writeFlow(llvm::raw_ostream &OS, const ReportData &D) {
  Columns Cols(D);
  OS << "<section id=\"flow\">\n<h2>Gradient flow</h2>\n"
     << "<p class=\"lead\">Predicted gradient norm \xE2\x80\x96" "dL/dW\xE2\x80\x96 of each "
        "block's weights by role, for the "
     << lossName(D.R.A.Setup.Loss)
     << " loss; the shaded band is the [lo, hi] prediction interval"
     << (D.In.Probe ? ", crosses are the probe's measurements" : "")
     << ". The thick line is the gradient of the hidden state entering each block"
     << (llvm::any_of(D.R.S.Blocks, [](const BlockInfo &B) { return !B.Residuals.empty(); })
             ? " (the residual stream). "
             : ". ")
     << "Hover a point for the numbers; click a legend key to hide a series, a "
        "column to show only that block.</p>\n";
  html::ChartSpec C;
  C.Id = "flow-chart";
  C.Title = "predicted gradient norm per block and role, log scale";
  C.YLabel = "\xE2\x80\x96gradient\xE2\x80\x96";
  C.Columns = Cols.Labels;
  C.ColumnBlock = Cols.Blocks;
  C.Series = parameterSeries(D, Cols, normScale, false);
  html::ChartSeries Stream = streamSeries(D, Cols);
  if (!Stream.Points.empty())
    C.Series.insert(C.Series.begin(), std::move(Stream));
  C.Height = 400;
  writeChart(OS, C);

  if (const FormatLimits *Fmt = formatOfInterest(D)) {
    OS << "<h3>Against " << Fmt->Name << "'s range</h3>\n"
       << "<p class=\"lead\">The same gradients per element (RMS = \xE2\x80\x96g\xE2\x80\x96/\xE2\x88\x9an"
          "). Below the normal line elements lose precision; below the subnormal "
          "line they become 0 unless the loss is scaled.</p>\n";
    html::ChartSpec F;
    F.Id = "format-chart";
    F.Title = std::string("per-element gradient RMS against the ") + Fmt->Name + " range";
    F.YLabel = "RMS per element";
    F.Columns = Cols.Labels;
    F.ColumnBlock = Cols.Blocks;
    F.Series = parameterSeries(D, Cols, rmsScale, true);
    F.Lines = {{Fmt->MinNormal, std::string(Fmt->Name) + " smallest normal"},
               {Fmt->MinSubnormal, std::string(Fmt->Name) + " smallest subnormal"}};
    F.Height = 300;
    F.Legend = false;
    writeChart(OS, F);
  }
  OS << "</section>\n";
}
