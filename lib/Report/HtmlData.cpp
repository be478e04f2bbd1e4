//===- HtmlData.cpp - what the HTML report's sections read ----------------===//
#include "HtmlSupport.h"
#include "gradlint/Probe/Probe.h"
#include "gradlint/Report/Check.h"
#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <tuple>

using namespace gradlint;
using namespace gradlint::html;

namespace {
struct SeriesName {
  const char *Key, *Label;
};
} // namespace

/// Legend order and labels; other roles follow, sorted.
static const SeriesName KnownSeries[] = {
    {"embedding.token", "token embedding"},
    {"embedding.position", "position embedding"},
    {"norm.embedding", "embedding norm"},
    {"norm.attention", "attention norm"},
    {"attention.q", "attention Q"},
    {"attention.k", "attention K"},
    {"attention.v", "attention V"},
    {"attention.qkv", "attention QKV"},
    {"attention.out", "attention out"},
    {"norm.cross_attention", "cross-attention norm"},
    {"norm.ffn", "FFN norm"},
    {"ffn.gate", "FFN gate"},
    {"ffn.up", "FFN in"},
    {"ffn.down", "FFN out"},
    {"norm.final", "final norm"},
    {"head", "head"},
    {"norm.other", "other norm"},
    {"other", "other"},
};

std::string html::seriesLabel(llvm::StringRef Key) {
  for (const SeriesName &S : KnownSeries)
    if (Key == S.Key)
      return S.Label;
  std::string L = Key.str();
  std::replace(L.begin(), L.end(), '.', ' ');
  std::replace(L.begin(), L.end(), '_', ' ');
  return L;
}

unsigned html::seriesRank(llvm::StringRef Key) {
  for (unsigned I = 0; I < std::size(KnownSeries); ++I)
    if (Key == KnownSeries[I].Key)
      return I;
  return std::size(KnownSeries);
}

/// The sublayer a norm's gain serves ("attention", "ffn", ...), or "".
static std::string normSublayer(const std::vector<NormInfo> &Norms, ValueId Gamma) {
  for (const NormInfo &N : Norms)
    if (N.Gamma == Gamma)
      return N.Sublayer.empty() ? "other" : N.Sublayer;
  return "";
}

static bool isEmbeddingNorm(const ModelStructure &S, ValueId V) {
  for (const NormInfo &N : S.EmbeddingNorms)
    if (V != NoId && (N.Gamma == V || N.Beta == V))
      return true;
  return false;
}

/// The chart series of a parameter, or "" when it is not drawn: biases and
/// norm shifts (the table has them), and fused weights whose blocks are
/// drawn as sub-parameters.
static std::string seriesOf(const ModelStructure &S, const ParamRow &Row,
                            const std::set<std::string> &SplitParents) {
  llvm::StringRef Kind = Row.Role;
  if (Kind.endswith(".bias") || Kind == "norm.beta" || SplitParents.count(Row.P->Name))
    return "";
  if (Kind == "norm.gamma") {
    ValueId V = Row.P->Value;
    std::string Sub;
    if (Row.Block >= 0 && size_t(Row.Block) < S.Blocks.size())
      Sub = normSublayer(S.Blocks[Row.Block].Norms, V);
    if (Sub.empty() && !normSublayer(S.EmbeddingNorms, V).empty())
      Sub = "embedding";
    if (Sub.empty() && !normSublayer(S.FinalNorms, V).empty())
      Sub = "final";
    return "norm." + (Sub.empty() ? std::string("other") : Sub);
  }
  return Kind.empty() ? "other" : Kind.str();
}

ReportData::ReportData(const HtmlReportInput &In) : In(In), R(In.Check) {
  std::map<std::string, double> Measured;
  if (In.Probe)
    for (const ParamGrad &G : In.Probe->Parameters)
      Measured[G.Name] = G.GradNorm;
  std::set<std::string> SplitParents;
  for (const ParameterPrediction &P : R.A.Parameters)
    if (!P.Parent.empty())
      SplitParents.insert(P.Parent);

  for (const ParameterPrediction &P : R.A.Parameters) {
    ParamRow Row;
    Row.P = &P;
    ModelStructure::Role Role = R.S.roleOf(R.M, P.Name);
    Row.Block = Role.Block < 0 || size_t(Role.Block) >= R.S.Blocks.size() ? -1 : Role.Block;
    Row.Role = Role.Kind;
    Row.Phrase = Role.Phrase;
    Row.Elements = 1;
    for (int64_t D : P.Shape)
      Row.Elements *= uint64_t(std::max<int64_t>(D, 0));
    auto It = Measured.find(P.Name);
    if (It != Measured.end())
      Row.Measured = It->second;
    if (Row.Block >= 0)
      Row.Column = Row.Block;
    else if (llvm::StringRef(Row.Role).startswith("embedding") ||
             isEmbeddingNorm(R.S, P.Value))
      Row.Column = EmbeddingColumn;
    else
      Row.Column = OutputColumn;
    Row.Series = seriesOf(R.S, Row, SplitParents);
    if (!Row.Series.empty()) {
      HasEmbeddingColumn |= Row.Column == EmbeddingColumn;
      HasOutputColumn |= Row.Column == OutputColumn;
    }
    Rows.push_back(std::move(Row));
  }

  // Rows in the chart's order: by column, then role as the legend orders them.
  auto Place = [](const ParamRow &Row) {
    return Row.Column == EmbeddingColumn ? -1
           : Row.Column == OutputColumn  ? std::numeric_limits<int>::max()
                                         : Row.Column;
  };
  auto Rank = [](const ParamRow &Row) {
    llvm::StringRef Role = Row.Role;
    Role.consume_back(".bias");
    return seriesRank(!Row.Series.empty()             ? llvm::StringRef(Row.Series)
                      : Role.startswith("norm.")      ? llvm::StringRef("norm.other")
                      : Role.empty()                  ? llvm::StringRef("other")
                                                      : Role);
  };
  std::stable_sort(Rows.begin(), Rows.end(), [&](const ParamRow &A, const ParamRow &B) {
    return std::make_tuple(Place(A), Rank(A), llvm::StringRef(A.Role),
                           llvm::StringRef(A.P->Name)) <
           std::make_tuple(Place(B), Rank(B), llvm::StringRef(B.Role),
                           llvm::StringRef(B.P->Name));
  });

  BlockWorst.resize(R.S.Blocks.size());
  BlockFindings.resize(R.S.Blocks.size());
  for (const Finding &F : R.Findings) {
    ++Counts[static_cast<unsigned>(F.Level)];
    if (F.Block < 0 || size_t(F.Block) >= R.S.Blocks.size())
      continue;
    auto &W = BlockWorst[F.Block];
    if (!W || *W < F.Level)
      W = F.Level;
    ++BlockFindings[F.Block];
  }
}

unsigned ReportData::blockCount() const { return R.S.Blocks.size(); }
