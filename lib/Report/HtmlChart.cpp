//===- HtmlChart.cpp - line charts as inline SVG --------------------------===//
#include "HtmlChart.h"
#include "HtmlSupport.h"
#include <algorithm>
#include <cmath>

using namespace gradlint;
using namespace gradlint::html;

namespace {
/// Maps data to SVG coordinates.
struct Frame {
  double Left = 64, Right = 16, Top = 14, Bottom = 40;
  double W, H;
  unsigned Columns;
  bool Log;
  double Y0, Y1; ///< axis range (log10 of it when Log)

  double plotW() const { return W - Left - Right; }
  double plotH() const { return H - Top - Bottom; }
  double colW() const { return plotW() / std::max(1u, Columns); }
  double x(unsigned Col) const { return Left + (Col + 0.5) * colW(); }
  /// Clamped to the plot: 0 and below sit on the bottom edge of a log axis.
  double y(double V) const {
    double T;
    if (Log)
      T = V > 0 ? (std::log10(V) - Y0) / (Y1 - Y0) : 0;
    else
      T = (V - Y0) / (Y1 - Y0);
    if (std::isnan(T))
      T = 0;
    T = std::clamp(T, 0.0, 1.0);
    return Top + (1 - T) * plotH();
  }
};
} // namespace

static double niceStep(double Range) {
  double P = std::pow(10, std::floor(std::log10(Range)));
  double F = Range / P;
  return (F <= 1 ? 1 : F <= 2 ? 2 : F <= 5 ? 5 : 10) * P;
}

/// The y range: points, measured values and reference lines decide it; band
/// edges widen it by at most four decades (loose bounds would flatten the
/// lines otherwise).
static void yRange(const ChartSpec &C, Frame &F) {
  double Min = INFINITY, Max = -INFINITY;
  auto Core = [&](double V) {
    if (std::isfinite(V) && (!C.LogY || V > 0)) {
      Min = std::min(Min, V);
      Max = std::max(Max, V);
    }
  };
  for (const ChartSeries &S : C.Series)
    for (const ChartPoint &P : S.Points) {
      Core(P.Y);
      if (P.Measured)
        Core(*P.Measured);
    }
  for (const ReferenceLine &L : C.Lines)
    Core(L.Y);
  if (Min > Max) {
    Min = C.LogY ? 0.1 : 0;
    Max = C.LogY ? 10 : 1;
  }
  double CoreMin = Min, CoreMax = Max;
  for (const ChartSeries &S : C.Series)
    for (const ChartPoint &P : S.Points) {
      double Widen = C.LogY ? 1e4 : 0.5 * (CoreMax - CoreMin);
      double LoLimit = C.LogY ? CoreMin / Widen : CoreMin - Widen;
      double HiLimit = C.LogY ? CoreMax * Widen : CoreMax + Widen;
      if (std::isfinite(P.Lo) && (!C.LogY || P.Lo > 0))
        Min = std::min(Min, std::max(P.Lo, LoLimit));
      if (std::isfinite(P.Hi))
        Max = std::max(Max, std::min(P.Hi, HiLimit));
    }
  if (C.LogY) {
    F.Y0 = std::floor(std::log10(Min));
    F.Y1 = std::ceil(std::log10(Max));
    if (F.Y1 <= F.Y0)
      F.Y1 = F.Y0 + 1;
    return;
  }
  if (Max - Min < 1e-12 * std::max(1.0, std::fabs(Max))) {
    Min -= std::max(0.5, std::fabs(Min) * 0.1);
    Max += std::max(0.5, std::fabs(Max) * 0.1);
  }
  double Step = niceStep((Max - Min) / 5);
  F.Y0 = std::floor(Min / Step) * Step;
  F.Y1 = std::ceil(Max / Step) * Step;
}

static std::string tickLabel(bool Log, double T) {
  if (!Log)
    return num(T);
  long E = std::lround(T);
  return E == 0 ? "1" : "1e" + std::to_string(E);
}

static void writeAxes(llvm::raw_ostream &OS, const ChartSpec &C, const Frame &F) {
  OS << "<g class=\"axis\">";
  double Right = F.W - F.Right;
  if (C.LogY) {
    double Span = F.Y1 - F.Y0;
    int Step = Span <= 10 ? 1 : Span <= 20 ? 2 : Span <= 50 ? 5 : 10;
    for (double E = F.Y0; E <= F.Y1 + 1e-9; E += 1) {
      bool Major = std::lround(E) % Step == 0;
      double Y = F.y(std::pow(10, E));
      OS << "<line class=\"" << (Major ? "grid" : "grid minor") << "\" x1=\""
         << px(F.Left) << "\" x2=\"" << px(Right) << "\" y1=\"" << px(Y)
         << "\" y2=\"" << px(Y) << "\"/>";
      if (Major)
        OS << "<text class=\"yt\" x=\"" << px(F.Left - 6) << "\" y=\"" << px(Y + 4)
           << "\">" << tickLabel(true, E) << "</text>";
    }
  } else {
    double Step = niceStep((F.Y1 - F.Y0) / 5);
    for (double V = F.Y0; V <= F.Y1 + Step * 1e-6; V += Step) {
      double Y = F.y(V);
      OS << "<line class=\"grid\" x1=\"" << px(F.Left) << "\" x2=\"" << px(Right)
         << "\" y1=\"" << px(Y) << "\" y2=\"" << px(Y) << "\"/>"
         << "<text class=\"yt\" x=\"" << px(F.Left - 6) << "\" y=\"" << px(Y + 4)
         << "\">" << num(std::fabs(V) < Step * 1e-6 ? 0 : V) << "</text>";
    }
  }
  // x labels, thinned to about 30.
  unsigned N = C.Columns.size();
  unsigned Every = std::max(1u, (N + 29) / 30);
  double Base = F.H - F.Bottom;
  for (unsigned I = 0; I < N; ++I)
    if (I % Every == 0 || I + 1 == N)
      OS << "<text class=\"xt\" x=\"" << px(F.x(I)) << "\" y=\"" << px(Base + 16)
         << "\">" << esc(C.Columns[I]) << "</text>";
  OS << "<line class=\"frame\" x1=\"" << px(F.Left) << "\" x2=\"" << px(Right)
     << "\" y1=\"" << px(Base) << "\" y2=\"" << px(Base) << "\"/>"
     << "<line class=\"frame\" x1=\"" << px(F.Left) << "\" x2=\"" << px(F.Left)
     << "\" y1=\"" << px(F.Top) << "\" y2=\"" << px(Base) << "\"/>";
  if (!C.YLabel.empty()) {
    double Mid = F.Top + F.plotH() / 2;
    OS << "<text class=\"yl\" transform=\"translate(14 " << px(Mid)
       << ") rotate(-90)\">" << esc(C.YLabel) << "</text>";
  }
  OS << "</g>";
}

/// Invisible column strips: the script highlights the selected block's and
/// filters the page when one is clicked.
static void writeColumns(llvm::raw_ostream &OS, const ChartSpec &C, const Frame &F) {
  if (C.ColumnBlock.empty())
    return;
  OS << "<g class=\"cols\">";
  for (unsigned I = 0; I < C.ColumnBlock.size(); ++I)
    if (C.ColumnBlock[I] >= 0)
      OS << "<rect class=\"col\" data-block=\"" << C.ColumnBlock[I] << "\" x=\""
         << px(F.x(I) - F.colW() / 2) << "\" y=\"" << px(F.Top) << "\" width=\""
         << px(F.colW()) << "\" height=\"" << px(F.plotH()) << "\"/>";
  OS << "</g>";
}

static void writeLines(llvm::raw_ostream &OS, const ChartSpec &C, const Frame &F) {
  for (const ReferenceLine &L : C.Lines) {
    double Y = F.y(L.Y);
    OS << "<g class=\"ref\"><line x1=\"" << px(F.Left) << "\" x2=\""
       << px(F.W - F.Right) << "\" y1=\"" << px(Y) << "\" y2=\"" << px(Y)
       << "\"/><text x=\"" << px(F.W - F.Right - 4) << "\" y=\"" << px(Y - 4)
       << "\">" << esc(L.Label) << "</text><title>" << esc(L.Label) << ": "
       << num(L.Y) << "</title></g>";
  }
}

/// Runs of consecutive columns: a series is not joined across a gap.
static std::vector<std::pair<size_t, size_t>> runs(const ChartSeries &S) {
  std::vector<std::pair<size_t, size_t>> Out;
  for (size_t I = 0; I < S.Points.size(); ++I) {
    if (I == 0 || S.Points[I].X != S.Points[I - 1].X + 1)
      Out.push_back({I, I});
    Out.back().second = I;
  }
  return Out;
}

static void writeBand(llvm::raw_ostream &OS, const ChartSeries &S, const Frame &F,
                      size_t Begin, size_t End) {
  for (size_t I = Begin; I <= End; ++I)
    if (std::isnan(S.Points[I].Lo) && std::isnan(S.Points[I].Hi))
      return;
  auto Lo = [&](const ChartPoint &P) { return F.y(std::isnan(P.Lo) ? P.Y : P.Lo); };
  auto Hi = [&](const ChartPoint &P) {
    return F.y(std::isnan(P.Hi) ? P.Y : P.Hi); // inf clamps to the top
  };
  if (Begin == End) {
    const ChartPoint &P = S.Points[Begin];
    double Half = std::min(8.0, F.colW() * 0.3);
    OS << "<rect class=\"band\" x=\"" << px(F.x(P.X) - Half) << "\" y=\"" << px(Hi(P))
       << "\" width=\"" << px(2 * Half) << "\" height=\"" << px(Lo(P) - Hi(P))
       << "\"/>";
    return;
  }
  OS << "<path class=\"band\" d=\"";
  for (size_t I = Begin; I <= End; ++I)
    OS << (I == Begin ? "M" : "L") << px(F.x(S.Points[I].X)) << " " << px(Hi(S.Points[I]));
  for (size_t I = End + 1; I-- > Begin;)
    OS << "L" << px(F.x(S.Points[I].X)) << " " << px(Lo(S.Points[I]));
  OS << "Z\"/>";
}

static void writeSeries(llvm::raw_ostream &OS, const ChartSeries &S, const Frame &F) {
  OS << "<g class=\"series " << esc(S.Class) << (S.Thick ? " thick" : "")
     << "\" data-series=\"" << esc(S.Key) << "\"";
  if (!S.Color.empty())
    OS << " style=\"--c:" << esc(S.Color) << "\"";
  OS << ">";
  auto Runs = runs(S);
  for (auto [Begin, End] : Runs)
    writeBand(OS, S, F, Begin, End);
  for (auto [Begin, End] : Runs) {
    if (Begin == End)
      continue;
    OS << "<path class=\"line\" d=\"";
    for (size_t I = Begin; I <= End; ++I)
      OS << (I == Begin ? "M" : "L") << px(F.x(S.Points[I].X)) << " "
         << px(F.y(S.Points[I].Y));
    OS << "\"/>";
  }
  for (const ChartPoint &P : S.Points) {
    double X = F.x(P.X);
    OS << "<circle class=\"pt\" data-col=\"" << P.X << "\" cx=\"" << px(X)
       << "\" cy=\"" << px(F.y(P.Y)) << "\" r=\"" << (S.Thick ? "3.5" : "3")
       << "\"><title>" << esc(P.Tip) << "</title></circle>";
    if (P.Measured) {
      double Y = F.y(*P.Measured);
      OS << "<path class=\"ms\" d=\"M" << px(X - 4) << " " << px(Y - 4)
         << "l8 8m0 -8l-8 8\"><title>" << esc(P.Tip) << "</title></path>";
    }
  }
  OS << "</g>";
}

void html::writeChart(llvm::raw_ostream &OS, const ChartSpec &C) {
  Frame F;
  F.W = C.Width;
  F.H = C.Height;
  F.Columns = C.Columns.size();
  F.Log = C.LogY;
  yRange(C, F);
  unsigned Points = 0, Measured = 0;
  for (const ChartSeries &S : C.Series)
    for (const ChartPoint &P : S.Points) {
      ++Points;
      Measured += P.Measured.has_value();
    }
  OS << "<figure class=\"chart\" id=\"" << esc(C.Id) << "\" data-points=\"" << Points
     << "\" data-measured=\"" << Measured << "\" data-series-count=\""
     << C.Series.size() << "\">\n<svg viewBox=\"0 0 " << C.Width << " " << C.Height
     << "\" role=\"img\" aria-label=\"" << esc(C.Title) << "\">";
  writeColumns(OS, C, F);
  writeAxes(OS, C, F);
  writeLines(OS, C, F);
  for (const ChartSeries &S : C.Series)
    writeSeries(OS, S, F);
  OS << "</svg>\n";
  if (C.Legend && !C.Series.empty()) {
    OS << "<div class=\"legend\">";
    for (const ChartSeries &S : C.Series) {
      OS << "<button type=\"button\" class=\"key " << esc(S.Class)
         << (S.Thick ? " thick" : "") << "\" data-series=\"" << esc(S.Key)
         << "\" aria-pressed=\"true\"";
      if (!S.Color.empty())
        OS << " style=\"--c:" << esc(S.Color) << "\"";
      OS << "><span class=\"sw\"></span>" << esc(S.Label) << "</button>";
    }
    OS << "</div>\n";
  }
  if (!C.Note.empty())
    OS << "<p class=\"note\">" << esc(C.Note) << "</p>\n";
  OS << "</figure>\n";
}
