//===- Html.h - `gradlint check --html`: one self-contained page -*- C++ -*-===//
//
// The report a person reads (DESIGN §1, docs/report.md): a header with the
// verdict and the command, the gradient-flow chart (inline SVG drawn here),
// the recovered architecture coloured by finding, the findings grouped by
// rule with their documentation, a sortable parameter table, the coverage of
// unsupported ops and, with a probe, measured values and training curves.
// No network requests: CSS, SVG and a little JS are inline, and a
// Content-Security-Policy forbids everything else. Every string taken from
// the model is escaped. The same input gives the same bytes.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_REPORT_HTML_H
#define GRADLINT_REPORT_HTML_H

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <string>

namespace gradlint {

struct CheckReport;
struct ProbeResult;

struct HtmlReportInput {
  explicit HtmlReportInput(const CheckReport &Check) : Check(Check) {}
  /// Model, shapes, structure, analysis and findings, as `check` prints them.
  const CheckReport &Check;
  /// Measured gradients (and optimizer steps) from `--probe`, or null.
  const ProbeResult *Probe = nullptr;
  /// Why the probe was asked for but is missing (its error), or empty.
  std::string ProbeError;
  /// The command that produced the page, shown verbatim.
  std::string CommandLine;
  /// The gradlint version; empty means this build's.
  std::string Version;
  /// A timestamp to print, or empty for none (keeps the bytes reproducible).
  std::string Generated;
};

/// Writes the page. Fails only when OS reports an error.
llvm::Error writeHtmlReport(llvm::raw_ostream &OS, const HtmlReportInput &In);

} // namespace gradlint

#endif
