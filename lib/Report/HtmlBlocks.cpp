//===- HtmlBlocks.cpp - the architecture as gradlint recovered it ---------===//
//
// Embeddings, then one tile per block (its norm placement, attention, FFN
// and residuals as a small diagram), then the output. A tile's colour is its
// worst finding; clicking it filters the chart, findings and table to it.
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"
#include "gradlint/Report/Check.h"
#include <cmath>
#include <map>

using namespace gradlint;
using namespace gradlint::html;

static std::string attentionText(const AttentionInfo &A, const char *What) {
  std::string S = What;
  if (A.Heads > 0) {
    S += " " + std::to_string(A.Heads);
    if (A.KvHeads > 0 && A.KvHeads != A.Heads)
      S += "/" + std::to_string(A.KvHeads);
    S += "h";
    if (A.HeadDim > 0)
      S += "\xC3\x97" + std::to_string(A.HeadDim); // ×
  }
  return S;
}

/// "÷√d", "unscaled" or the factor; Bad when the logits are not scaled.
static std::string scaleText(const AttentionInfo &A, bool &Bad) {
  Bad = false;
  if (!A.ScaleKnown)
    return "scale ?";
  if (A.HeadDim > 0 && std::fabs(A.Scale * std::sqrt(double(A.HeadDim)) - 1) < 1e-3)
    return "\xC3\xB7\xE2\x88\x9A" "d"; // ÷√d
  if (std::fabs(A.Scale - 1) < 1e-9) {
    Bad = A.HeadDim > 1;
    return "unscaled";
  }
  return "scale " + num(A.Scale);
}

static void chip(llvm::raw_ostream &OS, llvm::StringRef Class, llvm::StringRef Text) {
  OS << "<span class=\"chip " << Class << "\">" << esc(Text) << "</span>";
}

/// One sublayer as a row of chips in data-flow order: pre-norm LN, the
/// sublayer, its residual add, post-norm LN.
static void sublayer(llvm::raw_ostream &OS, const BlockInfo &B, llvm::StringRef Name,
                     llvm::StringRef Detail, bool DetailBad, bool Residual) {
  OS << "<span class=\"sub\">";
  if (B.Norm == NormPlacement::Pre)
    chip(OS, "norm", "LN");
  chip(OS, "op", Name);
  if (!Detail.empty())
    chip(OS, DetailBad ? "bad" : "info", Detail);
  chip(OS, Residual ? "res" : "bad", Residual ? "\xE2\x8A\x95" : "no \xE2\x8A\x95");
  if (B.Norm == NormPlacement::Post)
    chip(OS, "norm", "LN");
  OS << "</span>";
}

/// The sublayer rows of a block's tile; equal strings mean equal structure.
static std::string structureHtml(const BlockInfo &B) {
  std::string Out;
  llvm::raw_string_ostream OS(Out);
  unsigned Residuals = B.Residuals.size();
  unsigned Sublayers = bool(B.Attention) + bool(B.CrossAttention) + bool(B.Ffn);
  unsigned Seen = 0;
  auto HasResidual = [&] { return Seen++ < Residuals && Residuals >= Sublayers; };
  for (auto [A, What] : {std::make_pair(&B.Attention, "attn"),
                         std::make_pair(&B.CrossAttention, "cross")}) {
    if (!*A)
      continue;
    bool Bad;
    std::string Scale = scaleText(**A, Bad);
    if ((*A)->Mask != MaskKind::None)
      Scale += ", " + maskKindName((*A)->Mask).str();
    sublayer(OS, B, attentionText(**A, What), Scale, Bad, HasResidual());
  }
  if (B.Ffn) {
    std::string Act = B.Ffn->Activation.empty() ? "?" : B.Ffn->Activation;
    bool Saturating = Act == "tanh" || Act == "sigmoid";
    sublayer(OS, B, "ffn", Act, Saturating, HasResidual());
  }
  if (Residuals > 0 && Residuals < Sublayers)
    OS << "<span class=\"sub\">" << Residuals << " of " << Sublayers
       << " sublayers with a residual</span>";
  return Out;
}

static std::string normText(const BlockInfo &B) {
  return B.Norm == NormPlacement::None ? std::string("no norm")
                                       : normPlacementName(B.Norm).str() + "-norm";
}

/// A block's tile: full (its structure drawn) or compact (the number and
/// its findings, for a block like the typical one of a deep stack).
static void tile(llvm::raw_ostream &OS, const ReportData &D, const BlockInfo &B,
                 const std::string &Structure, bool Compact) {
  std::optional<Severity> Worst = D.BlockWorst[B.Index];
  std::string Sev = Worst ? severityName(*Worst).str() : "ok";
  unsigned N = D.BlockFindings[B.Index];
  std::string Findings = N ? plural(N, "finding") : std::string("no findings");
  OS << "<li><button type=\"button\" class=\"blk sev-" << Sev << (Compact ? " compact" : "")
     << "\" data-block=\"" << B.Index << "\" aria-pressed=\"false\"";
  if (Compact) {
    OS << " title=\"block " << B.Index << ": " << Findings << "\"><span class=\"bt\">"
       << B.Index << "</span><span class=\"bf\">" << (N ? std::to_string(N) : "") << "</span>"
       << "</button></li>\n";
    return;
  }
  OS << "><span class=\"bt\">block " << B.Index << "<span class=\"np\">" << normText(B)
     << "</span></span>" << Structure << "<span class=\"bf\">" << Findings
     << "</span></button></li>\n";
}

void html::writeArchitecture(llvm::raw_ostream &OS, const ReportData &D) {
  const ModelStructure &S = D.R.S;
  OS << "<section id=\"architecture\">\n<h2>Architecture</h2>\n"
     << "<p class=\"lead\">The model as gradlint recovered it, input at the top left. "
        "LN is a normalization, \xE2\x8A\x95 a residual add; each block is "
        "coloured by its worst finding. Click a block to show only it in the "
        "chart, the findings and the table.</p>\n";
  OS << "<ol class=\"arch\" data-blocks=\"" << S.Blocks.size() << "\">\n";
  // Embeddings and the final stage are context, not filters.
  OS << "<li><div class=\"blk edge\"><span class=\"bt\">input</span>";
  unsigned Tokens = 0, Positions = 0;
  for (const EmbeddingInfo &E : S.Embeddings)
    ++(E.Positional ? Positions : Tokens);
  if (Tokens)
    chip(OS, "op", "token embedding");
  if (Positions)
    chip(OS, "op", "position embedding");
  if (!S.EmbeddingNorms.empty())
    chip(OS, "norm", "LN");
  if (S.Embeddings.empty())
    chip(OS, "info", "no embedding");
  OS << "</div></li>\n";
  // A deep stack draws its most common block once and the blocks like it
  // as compact tiles; the others in full.
  std::vector<std::string> Structures;
  std::map<std::string, unsigned> Frequency;
  for (const BlockInfo &B : S.Blocks) {
    Structures.push_back(normText(B) + structureHtml(B));
    ++Frequency[Structures.back()];
  }
  std::string Typical;
  unsigned TypicalCount = 0;
  for (const std::string &Str : Structures) // first of the most frequent
    if (Frequency[Str] > TypicalCount) {
      Typical = Str;
      TypicalCount = Frequency[Str];
    }
  bool Compact = S.Blocks.size() > 16;
  if (Compact) {
    const BlockInfo &B = S.Blocks[llvm::find(Structures, Typical) - Structures.begin()];
    OS << "<li><div class=\"blk edge\"><span class=\"bt\">"
       << (TypicalCount == S.Blocks.size() ? "every block"
                                           : std::to_string(TypicalCount) + " of " +
                                                 std::to_string(S.Blocks.size()) + " blocks")
       << "<span class=\"np\">" << normText(B) << "</span></span>" << structureHtml(B)
       << "<span class=\"bf\">numbered tiles below</span></div></li>\n";
  }
  for (size_t I = 0; I < S.Blocks.size(); ++I)
    tile(OS, D, S.Blocks[I], structureHtml(S.Blocks[I]),
         Compact && Structures[I] == Typical);
  OS << "<li><div class=\"blk edge\"><span class=\"bt\">output</span>";
  if (!S.FinalNorms.empty())
    chip(OS, "norm", "final LN");
  if (S.Head != NoId)
    chip(OS, "op", "head");
  chip(OS, "info", lossName(D.R.A.Setup.Loss).str() + " loss");
  OS << "</div></li>\n</ol>\n";
  if (S.Blocks.empty())
    OS << "<p class=\"note\">No transformer block was recognized; the chart and "
          "table list the parameters outside blocks.</p>\n";
  OS << "</section>\n";
}
