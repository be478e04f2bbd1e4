//===- HtmlSupport.h - pieces shared by the HTML report's sections --------===//
//
// Escaping (every model-supplied string goes through esc() or scriptJson()),
// number formatting, and the report's data gathered once: a row per
// parameter with its place in the architecture and the chart.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_REPORT_HTMLSUPPORT_H
#define GRADLINT_LIB_REPORT_HTMLSUPPORT_H

#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Report/Html.h"
#include "gradlint/Rules/Rule.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace gradlint {
struct CheckReport;
struct ModelStructure;
} // namespace gradlint

namespace gradlint::html {

/// Text or attribute value: & < > " ' become references; invalid UTF-8 and
/// control characters (but tab and newline) become U+FFFD.
std::string escape(llvm::StringRef S);

/// A string to stream escaped: `OS << esc(Name)`.
struct Escaped {
  llvm::StringRef S;
};
inline Escaped esc(llvm::StringRef S) { return {S}; }
llvm::raw_ostream &operator<<(llvm::raw_ostream &OS, const Escaped &E);

/// A string made valid UTF-8 (for llvm::json, which requires it).
std::string utf8(llvm::StringRef S);

/// JSON text safe inside <script type="application/json">: <, >, & and
/// U+2028/U+2029 written as \u escapes.
std::string scriptJson(const llvm::json::Value &V);

/// "1 row", "2 rows".
std::string plural(uint64_t N, llvm::StringRef One);

/// "3.14e-05", "0.25", "inf", "—" for NaN: three significant digits.
std::string num(double V);
/// Full precision for data-v sort keys and JS ("Infinity" for inf).
std::string key(double V);
/// One decimal, for SVG coordinates.
std::string px(double V);

/// Which column of the gradient-flow chart a parameter belongs to.
constexpr int EmbeddingColumn = -2; ///< before block 0
constexpr int OutputColumn = -1;    ///< after the last block

/// One parameter (or sub-parameter) as the report shows it.
struct ParamRow {
  const ParameterPrediction *P = nullptr;
  int Block = -1;       ///< -1 outside blocks
  std::string Role;     ///< roleOf's kind ("attention.q"), "" unknown
  std::string Phrase;   ///< "block 7 attention query projection"
  uint64_t Elements = 0;
  std::optional<double> Measured; ///< the probe's ‖dL/dW‖
  /// Chart placement: Column >= 0 a block, else EmbeddingColumn/OutputColumn;
  /// Series empty when the parameter is not drawn (biases, split parents).
  int Column = OutputColumn;
  std::string Series;
  bool inBand() const {
    return !Measured || (*Measured >= P->GradNorm.Lo * (1 - 1e-9) &&
                         *Measured <= P->GradNorm.Hi * (1 + 1e-9));
  }
};

/// A chart series' legend label ("attention Q" for "attention.q").
std::string seriesLabel(llvm::StringRef Key);
/// Its place in the legend; unknown keys after the known ones.
unsigned seriesRank(llvm::StringRef Key);

/// Everything the sections read, computed once.
struct ReportData {
  const HtmlReportInput &In;
  const CheckReport &R;
  /// In the chart's order: embeddings, blocks, the rest; by role and name within.
  std::vector<ParamRow> Rows;
  /// Worst finding per block (index = block), and for findings outside blocks.
  std::vector<std::optional<Severity>> BlockWorst;
  std::vector<unsigned> BlockFindings;
  unsigned Counts[3] = {0, 0, 0}; ///< by Severity
  bool HasEmbeddingColumn = false, HasOutputColumn = false;

  explicit ReportData(const HtmlReportInput &In);
  unsigned blockCount() const;
};

// The sections, in page order.
void writeHeader(llvm::raw_ostream &OS, const ReportData &D);
void writeFlow(llvm::raw_ostream &OS, const ReportData &D);
void writeArchitecture(llvm::raw_ostream &OS, const ReportData &D);
void writeFindings(llvm::raw_ostream &OS, const ReportData &D);
void writeParameters(llvm::raw_ostream &OS, const ReportData &D);
void writeCoverage(llvm::raw_ostream &OS, const ReportData &D);
void writeTraining(llvm::raw_ostream &OS, const ReportData &D);

/// A rule's documentation page (Markdown) as HTML: headings, paragraphs,
/// lists, tables, code blocks and inline code.
void writeMarkdown(llvm::raw_ostream &OS, llvm::StringRef Markdown);
/// One line of it: inline `code`, **bold** and link texts.
void writeInlineMarkdown(llvm::raw_ostream &OS, llvm::StringRef Text);

/// The page's stylesheet and script.
llvm::StringRef pageStyle();
llvm::StringRef pageScript();

} // namespace gradlint::html

#endif
