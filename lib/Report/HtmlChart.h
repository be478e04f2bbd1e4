//===- HtmlChart.h - line charts as inline SVG ----------------------------===//
//
// One chart kind serves the report: categorical columns on x (blocks, or
// optimizer steps), a log or linear y axis, series drawn as a line through
// their points with an optional [lo, hi] band and measured marks, and
// horizontal reference lines. Hover text rides in <title> elements, which the
// page's script turns into a tooltip.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_REPORT_HTMLCHART_H
#define GRADLINT_LIB_REPORT_HTMLCHART_H

#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace gradlint::html {

struct ChartPoint {
  unsigned X = 0; ///< column index
  double Y = 0;
  /// The band at this column; NaN where the series has none.
  double Lo = NAN, Hi = NAN;
  std::optional<double> Measured;
  std::string Tip; ///< hover text, plain (escaped when written)
};

struct ChartSeries {
  std::string Key;   ///< data-series; also what the legend toggles
  std::string Label;
  std::string Class; ///< colour class ("c0".."c11", "stream")
  std::string Color; ///< explicit stroke colour, overrides Class
  std::vector<ChartPoint> Points; ///< sorted by X
  bool Thick = false;
};

struct ReferenceLine {
  double Y = 0;
  std::string Label;
};

struct ChartSpec {
  std::string Id, Title, YLabel;
  std::vector<std::string> Columns; ///< x labels
  std::vector<int> ColumnBlock;     ///< block per column (-1 none), or empty
  bool LogY = true;
  std::vector<ChartSeries> Series;
  std::vector<ReferenceLine> Lines;
  unsigned Width = 1200, Height = 380;
  bool Legend = true;
  /// Caption text under the chart (plain), or empty.
  std::string Note;
};

/// A <figure> with the SVG and a legend whose keys toggle the series.
void writeChart(llvm::raw_ostream &OS, const ChartSpec &C);

} // namespace gradlint::html

#endif
