//===- Analyzer.h - state shared by the transfer rules ----------*- C++ -*-===//
//
// Internal to lib/Analysis. The driver (Analysis.cpp) walks the graph forward
// then backward and calls the transfer rules of each op family
// (Transfer/<Family>.cpp), which read and write the state declared here.
// The derivations behind the rules are in docs/analysis.md.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_LIB_ANALYSIS_ANALYZER_H
#define GRADLINT_LIB_ANALYSIS_ANALYZER_H

#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Structure/Structure.h"
#include "gradlint/Support/Random.h"
#include <cmath>
#include <memory>

namespace gradlint::analysis {

/// Gauss–Hermite nodes for E[f(z)], z ~ N(0, 1): E ≈ Σ W[q] f(Z[q]).
struct Quadrature {
  std::vector<double> Z, W;
  static const Quadrature &get(); ///< 24 nodes
};

/// Quadrature nodes for E[g(x_f)] over per-feature Gaussians x_f = mean_f +
/// sd_f·z: E ≈ Σ_q w_fq g(x_f(z_fq)). Gauss–Hermite resolves maps that bend
/// on the scale of sd. Activations bend on a unit scale near 0 (sigmoid′
/// has all but 1e-4 of its mass in |x| < 10): where sd is much wider, all
/// 24 Hermite nodes land where the map is flat (E[sigmoid′²] at sd 30 comes
/// out 1e-6 of its value), so such features get a composite Gauss–Legendre
/// rule packed into that window, with the Gaussian's tails on either side.
struct Rule {
  size_t NQ = 0;
  bool PerFeature = false;
  std::vector<double> Z, W; ///< [NQ], or [features × NQ] when PerFeature
  const double *z(int64_t F) const { return Z.data() + (PerFeature ? F * NQ : 0); }
  const double *w(int64_t F) const { return W.data() + (PerFeature ? F * NQ : 0); }
  /// Gauss–Hermite for every feature.
  static std::shared_ptr<const Rule> hermite();
  /// For the features of Mean/Var: Gauss–Hermite, or the composite rule for
  /// features whose sd exceeds WideSd and whose ±8 sd reach the window.
  static std::shared_ptr<const Rule> forGaussians(const std::vector<double> &Mean,
                                                  const std::vector<double> &Var);
  static constexpr double Window = 10, WideSd = 2;
};

/// A value that is an elementwise function of a source value, tabulated at
/// the quadrature nodes of each source feature: Val[f*NQ+q] = v(s_fq),
/// Der[f*NQ+q] = dv/ds(s_fq), where s_fq = mean_f + sqrt(var_f) z_fq.
/// Lets chains like x·sigmoid(x) or x·Φ(x) be integrated exactly under the
/// Gaussian assumption on the source, instead of op by op.
struct Table {
  ValueId Source = NoId;
  std::shared_ptr<const Rule> Nodes; ///< the source's, shared along a chain
  std::vector<double> Val, Der;
  size_t nq() const { return Nodes->NQ; }
};

/// Which keys each query row may attend to, from a folded mask.
struct MaskInfo {
  bool Causal = false;
  std::vector<int64_t> Valid; ///< per query row: number of unmasked keys
};

/// Per-position means of a value laid out [.., T, F]: D[t·F + f] =
/// E[x | position t] − Mean[f], the same for every leading index (batch),
/// summing to zero over t. A positional embedding starts them; causal
/// attention averages positions unevenly, which turns this deterministic
/// spread into a mean every token shares — pooled as noise, it would not.
/// Long sequences keep them at R = 128 evenly spaced anchor positions
/// (rows of D), each standing for the positions nearest to it.
struct PositionMeans {
  static constexpr int64_t MaxAnchors = 128;
  int64_t T = 0, F = 0; ///< the value's positions (axis −2) and features
  int64_t R = 0;        ///< rows of D: T, or MaxAnchors anchors
  std::vector<double> D; ///< [R × F]
  /// [R], or empty for all ones: each position's variance about its own
  /// mean over the pooled one (attention rows that average more keys
  /// vary less; LayerNorm divides each position by its own σ).
  std::vector<double> Scale;
  double scale(int64_t Row) const { return Scale.empty() ? 1.0 : Scale[Row]; }
  static int64_t rowsFor(int64_t T) { return std::min(T, MaxAnchors); }
  /// The position of anchor row Row, and the anchor row nearest position P.
  static int64_t positionOf(int64_t Row, int64_t T) {
    int64_t R = rowsFor(T);
    return R == T || R < 2 ? Row : (Row * (T - 1) + (R - 1) / 2) / (R - 1);
  }
  static int64_t rowOf(int64_t P, int64_t T) {
    int64_t R = rowsFor(T);
    return R == T || T < 2 ? P : (P * (R - 1) + (T - 1) / 2) / (T - 1);
  }
};

/// Forward state of one value.
struct FwdState {
  bool Known = false;
  ValueSummary S;
  std::shared_ptr<const Table> T;
  std::shared_ptr<const MaskInfo> Mask; ///< scores that a mask was applied to
  /// With --calibrate: per feature, the measured variance within a sequence
  /// (Calibration::SequenceVar); empty otherwise.
  std::vector<double> SequenceVar;
  std::shared_ptr<const PositionMeans> Pos; ///< null: none known
};

/// Backward state of one value, accumulated over its consumers.
struct GradState {
  double Coherent = 0, Varying = 0;
  double Sigma2 = 0;   ///< energy-weighted variance of log(est error)
  double Lip = 0;      ///< worst-case bound (DESIGN merge: sums)
  double OnesFree = 0; ///< share of energy orthogonal to the all-ones feature vector
  bool ZeroRowSum = false; ///< every row sums to zero along the last axis
  bool Reached = false;
  bool Unbounded = false; ///< passed through an op without a rule
  /// Along axis −2 (PosT positions; PositionMeans' anchors when more): each
  /// position's share of the energy relative to the mean, or empty for all
  /// alike. Keys that every later query reads (a causal first position)
  /// gather gradient; a softmax row with one key passes none of it on.
  std::vector<double> Pos;
  int64_t PosT = 0;
  double energy() const { return Coherent + Varying; }
  double pos(int64_t Row) const { return Pos.empty() ? 1.0 : Pos[Row]; }
  /// Sets Pos from per-row energies (normalised to mean 1; empty when flat).
  void setPos(std::vector<double> E, int64_t T);
  /// The same from energies at each of T positions, averaged into anchors.
  void setPosAt(const std::vector<double> &PerPosition);
};

/// Per-row softmax statistics that the backward rule needs.
struct SoftmaxRows {
  std::vector<double> SumP2, SumP3, MaxP; ///< per query row
  std::vector<double> JF;                 ///< per query row: E‖J_i‖_F²
  std::vector<double> ColSum;             ///< per key: Σ_rows E[p]
  int64_t Keys = 0;
  /// Static rule only: E[p_ij] from the simulated row nearest each row.
  std::vector<int64_t> Valid;                 ///< per row: keys it may see
  std::vector<int32_t> Nearest;               ///< per row: index into Simulated
  std::vector<std::vector<double>> Simulated; ///< E[p] over a row's valid keys
  double SumMeanP2 = 0;                       ///< Σ_i Σ_j E[p_ij]²
  bool hasMeans() const { return !Nearest.empty(); }
  double meanP(int64_t I, int64_t J) const {
    int64_t V = std::min(Valid[I], Keys);
    return J >= V ? 0.0 : resample(Simulated[Nearest[I]], J, V);
  }
  /// E[p_J] of a row with Valid keys from a simulated row S over S.size()
  /// keys: the same shape stretched to the row's keys, summing to one.
  static double resample(const std::vector<double> &S, int64_t J, int64_t Valid) {
    int64_t N = S.size();
    if (N == 0)
      return 1.0 / Valid;
    return S[std::min(N - 1, J * N / Valid)] * double(N) / Valid;
  }
};

class Analyzer {
public:
  Analyzer(const Model &M, const AnalysisOptions &O);
  llvm::Expected<AnalysisResult> run();

  const Model &M;
  const Graph &G;
  const AnalysisOptions &Opts;
  ReferenceSetup Setup;
  std::vector<FwdState> F;
  std::vector<GradState> B;
  std::vector<NodeFacts> Facts;
  std::map<NodeId, SoftmaxRows> Softmax;
  /// Frobenius² and spectral norm of 2-D float initializers (by ValueId).
  std::vector<double> WeightFrob2, WeightSpectral;
  std::vector<std::string> Unknown;
  /// What structure recovery found: decomposed norms are analysed as one
  /// op (their paths cancel in ways per-op energies cannot see), masks the
  /// constant folder could not evaluate are taken from the attention pattern.
  ModelStructure Structure;
  std::map<NodeId, const NormInfo *> DecomposedNormAt; ///< by producer of Output
  std::vector<bool> SkipBackward;                      ///< nodes inside those norms
  std::map<NodeId, MaskKind> SoftmaxMask;
  std::map<NodeId, const AttentionInfo *> AttentionAtOut; ///< by output projection
  std::map<NodeId, const AttentionInfo *> AttentionAtContext; ///< by P·V MatMul
  /// Per-position gradient energy of V (Att.VValue) found at the P·V MatMul,
  /// for the head-layout movement ops that cannot carry it.
  std::map<ValueId, std::pair<std::vector<double>, int64_t>> PendingPos;
  /// The gradient profile at the attention output (the output projection's
  /// input), or null.
  const GradState *contextGrad(const AttentionInfo &Att) const;

  // Helpers for the rules.
  const FwdState *fwd(ValueId V) const {
    return V != NoId && F[V].Known ? &F[V] : nullptr;
  }
  const Value &val(ValueId V) const { return G.Values[V]; }
  /// Whether a gradient can flow into V: it depends on a float initializer
  /// or a float graph input (folded shape arithmetic and masks do not).
  bool differentiable(ValueId V) const { return V != NoId && Differentiable[V]; }
  std::vector<bool> Differentiable;
  /// Summary of a value with the shape of V and the given moments per feature.
  ValueSummary blank(ValueId V) const;
  /// Pooled (all-feature) mean and E x² of a summary.
  static double pooledMean(const ValueSummary &S);
  static double pooledM2(const ValueSummary &S);
  static double pooledVar(const ValueSummary &S) {
    double M = pooledMean(S);
    return std::max(0.0, pooledM2(S) - M * M);
  }
  static double sumVar(const ValueSummary &S);
  /// Σ over features of the variance one attention row sees: measured
  /// within sequences when calibrated, else the pooled sumVar.
  static double sumRowVar(const FwdState &F);
  static double sumMean2(const ValueSummary &S);
  void setFwd(ValueId V, ValueSummary S, std::shared_ptr<const Table> T = nullptr,
              std::shared_ptr<const MaskInfo> Mask = nullptr);
  /// Adds one consumer's contribution to V's gradient.
  void addGrad(ValueId V, const GradState &C);
  /// Output gradient of a node's output I (never null: unreached is zero).
  const GradState &grad(ValueId V) const { return B[V]; }
  /// A contribution scaled by an energy factor, adding log-uncertainty Tau
  /// and a worst-case factor LipFactor.
  static GradState scaled(const GradState &G, double EnergyFactor, double Tau,
                          double LipFactor);
  /// Energy of a gradient summed over broadcast rows/features of an operand
  /// (a bias over tokens: ‖Σ_n g_n‖² = N·Coherent exactly).
  GradState reduceBroadcast(const GradState &G, ValueId Out, ValueId Operand) const;
  Rng rng(uint64_t Tag) const { return streamRng(Opts.Seed, Stream::Analysis, Tag); }
  /// V's per-position means: its own, or a constant's laid out [1.., T, F]
  /// (a positional table added as is). Null when none are known.
  std::shared_ptr<const PositionMeans> positions(ValueId V) const;
  /// positions() of a constant, computed once (null when it is not a table).
  std::shared_ptr<const PositionMeans> constantPositions(ValueId V) const;
  mutable std::map<ValueId, std::shared_ptr<const PositionMeans>> ConstantPositions;
  /// Sets V's per-position means (T from its axis −2) when they are not all
  /// zero; call after setFwd.
  void setPositions(ValueId V, std::vector<double> D, std::vector<double> Scale = {});
  /// ValueSummary::SequenceShared of V (0 when unknown), and setting it
  /// (clamped to [0, 1]; call after setFwd). Attention averages tokens and
  /// raises it; it is what collapsing tokens share, not what one attention
  /// row's keys spread over.
  double shared(ValueId V) const { return V != NoId && F[V].Known ? F[V].S.SequenceShared : 0; }
  void setShared(ValueId V, double Rho);
  /// With --calibrate: the measured softmax rows of V, or null.
  const Calibration::SoftmaxRows *calibratedSoftmax(ValueId V) const;
  /// With --calibrate: replaces the forward summaries of N's outputs by the
  /// measured ones (same layout), after N's rule ran.
  void calibrate(const Node &N);
  unsigned CalibratedValues = 0, CalibratedSoftmax = 0;
};

// Transfer rules by family: forward computes output summaries from input
// summaries; backward adds input gradient contributions from output grads.
// Each returns false when it has no rule for the node (then the driver
// treats it as an unknown op).
bool forwardElementwise(Analyzer &A, const Node &N);
bool backwardElementwise(Analyzer &A, const Node &N);
bool forwardLinear(Analyzer &A, const Node &N);
bool backwardLinear(Analyzer &A, const Node &N);
bool forwardSoftmax(Analyzer &A, NodeId Id, const Node &N);
bool backwardSoftmax(Analyzer &A, NodeId Id, const Node &N);
bool forwardNormalization(Analyzer &A, NodeId Id, const Node &N);
bool backwardNormalization(Analyzer &A, NodeId Id, const Node &N);
bool forwardMovement(Analyzer &A, const Node &N);
/// Per-position means of an attention's merged context (the out
/// projection's input) from those of V and the softmax's E[P]; also moves the
/// mean they create into the context's summary.
void forwardAttentionContext(Analyzer &A, const AttentionInfo &Att, ValueId Context);
/// A decomposed LayerNorm/RMSNorm as one op.
void forwardDecomposedNorm(Analyzer &A, NodeId Id, const NormInfo &Norm);
void backwardDecomposedNorm(Analyzer &A, NodeId Id, const NormInfo &Norm);
bool backwardMovement(Analyzer &A, const Node &N);
/// Seeds the backward pass with dL/d(output) of the reference loss.
void seedLoss(Analyzer &A);

// Numerics (Numerics.cpp).
/// Largest singular value of a Rows×Cols row-major matrix, by power iteration.
double spectralNorm(const std::vector<float> &W, int64_t Rows, int64_t Cols,
                    Rng &R);
/// Softmax row statistics for logits with per-key means/variances and the
/// given number of valid keys, by seeded Monte Carlo.
struct SoftmaxStats {
  double SumP2 = 0, SumP3 = 0, MaxP = 0;
  /// E‖J‖_F² with J = diag(p) − ppᵀ: by the Monte Carlo, or — where the
  /// rows are so saturated that samples cannot resolve it — by the density
  /// of near-ties between the two largest logits (softmaxTieJacobian).
  double JF = 0;
  double Tie = 0;        ///< softmaxTieDensity of the row's logits
  bool FromTies = false; ///< JF is the near-tie limit
  std::vector<double> MeanP; ///< per valid key
};
/// For y = f(x) tabulated at x's quadrature nodes (Table::Val of one
/// feature, NQ values): the correlation between y at two tokens whose x
/// correlate by Rho, by Mehler's formula Σ_n Rho^n c_n²/n! / Σ_n c_n²/n!
/// over the Hermite coefficients c_n = E[y He_n(z)], integrated with the
/// nodes Z and weights W (NQ of each).
double mehlerCorrelation(const double *Val, const double *Z, const double *W,
                         size_t NQ, double Rho);
SoftmaxStats softmaxMonteCarlo(const double *Mean, const double *Var,
                               int64_t Keys, unsigned Samples, Rng &R);
/// For independent Gaussian logits (per-key mean and variance): the density
/// at 0 of the gap between the two largest, g, and with it the saturated
/// limit of E‖J‖_F² = g/3 (a near-tie of width ~1 is where J lives: two keys
/// at gap Δ give ‖J‖_F² = 4s²(1−s)², s = σ(Δ), whose integral over Δ ≥ 0 is
/// 1/3). Returns g; 0 when a variance is 0.
double softmaxTieDensity(const double *Mean, const double *Var, int64_t Keys);
/// The near-tie limit of E‖J‖_F² as the typical value over one draw of
/// Rows rows: Tie/3 where a draw has a near-tie (gap < 1) in some row, scaled
/// by the expected number of such rows, Rows·Tie, where it has fewer than
/// one — the mean of a rare event is not what a draw measures.
double typicalTieJacobian(double Tie, int64_t Rows);

} // namespace gradlint::analysis

#endif
