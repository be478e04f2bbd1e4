//===- Probe.cpp - inputs, reference loss, gradients and optimizer steps --===//
//
// Inputs and targets are drawn exactly as Reference.h says: stream Inputs
// (index = the input's position among the graph inputs) for token ids
// (uniform over the Gather table's rows) and floats (standard normal); other
// integer inputs are 0. Stream Targets gives the ce targets, uniform over
// [0, V); stream Projection gives r. Files given with --input / --targets
// replace the draws.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Probe/Probe.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Probe/CPUBackend.h"
#include "gradlint/Probe/Device.h"
#include "gradlint/Probe/Executor.h"
#include "gradlint/Structure/SubParameters.h"
#include "gradlint/Support/Error.h"
#include <chrono>
#include <cmath>
#include <limits>

using namespace gradlint;
using namespace gradlint::probe;

namespace {

int64_t count(llvm::ArrayRef<int64_t> Shape) {
  int64_t N = 1;
  for (int64_t D : Shape)
    N *= D;
  return N;
}

/// The files given with --input, by graph input.
struct GivenInputs {
  std::map<ValueId, LoadedTensor> Tensors;
  std::map<ValueId, std::string> Paths;
};

llvm::Expected<GivenInputs> loadGiven(const Model &M, const ProbeOptions &O) {
  const Graph &G = M.G;
  GivenInputs Out;
  for (const auto &[Name, Path] : O.InputFiles) {
    ValueId V = G.findValue(Name);
    if (V == NoId || !G.Values[V].IsInput) {
      std::string Names;
      for (ValueId In : G.Inputs)
        Names += (Names.empty() ? "" : ", ") + G.Values[In].Name;
      return makeError("--input " + Name + ": the model has no input named '" +
                       Name + "' (its inputs: " + Names + ")");
    }
    auto T = loadTensorFile(Path);
    if (!T)
      return T.takeError();
    const Value &Val = G.Values[V];
    if (isFloatingPoint(Val.Type) != isFloatingPoint(T->Tensor.Type))
      return fileError(Path, "holds " + dataTypeName(T->Tensor.Type) +
                                 " but input '" + Name + "' is " +
                                 dataTypeName(Val.Type));
    Out.Paths[V] = Path;
    Out.Tensors.emplace(V, std::move(*T));
  }
  return Out;
}

/// Binds symbols of the given inputs' declared shapes from the files, unless
/// --dim binds them.
void bindFromGiven(const Model &M, const GivenInputs &Given, DimBindings &Dims) {
  for (const auto &[V, T] : Given.Tensors) {
    const Value &Val = M.G.Values[V];
    if (Val.DeclaredShape.size() != T.Tensor.Shape.size())
      continue;
    for (size_t A = 0; A != Val.DeclaredShape.size(); ++A) {
      const std::string &S = Val.DeclaredShape[A].Symbol;
      if (!S.empty() && !Dims.count(S))
        Dims[S] = T.Tensor.Shape[A];
    }
  }
}

/// What the probe draws itself (inputs, targets, the projection r) lives in
/// host memory, about 8 bytes an element with its copy: more than the
/// machine has (a --dim typo) is an error, not an allocation that aborts.
llvm::Error checkHostDraw(const Model &M, int64_t Elements, const llvm::Twine &What) {
  static const uint64_t Ram = physicalMemory();
  if (uint64_t(std::max<int64_t>(Elements, 0)) <= Ram / 8)
    return llvm::Error::success();
  return fileError(M.Info.Path, What + " needs about " +
                                    llvm::Twine(uint64_t(Elements) * 8 >> 30) +
                                    " GiB to draw; this machine has " +
                                    llvm::Twine(Ram >> 30) + " GiB (check --dim)");
}

struct DrawnInputs {
  InputValues Known; ///< integer inputs, for shape inference
  std::map<ValueId, std::shared_ptr<const HostTensor>> Ints;
  std::map<ValueId, std::vector<float>> Floats;
};

llvm::Expected<DrawnInputs> drawInputs(const Model &M, const ReferenceSetup &S,
                                       const GivenInputs &Given,
                                       const ProbeOptions &O) {
  const Graph &G = M.G;
  DrawnInputs D;
  for (size_t I = 0; I != S.Inputs.size(); ++I) {
    const InputSpec &Spec = S.Inputs[I];
    const Value &V = G.Values[Spec.Value];
    int64_t N = count(V.Shape);
    if (llvm::Error E = checkHostDraw(M, N, "input '" + V.Name + "' " + formatShape(V.Shape)))
      return E;
    if (auto It = Given.Tensors.find(Spec.Value); It != Given.Tensors.end()) {
      const TensorData &T = It->second.Tensor;
      if (llvm::ArrayRef<int64_t>(T.Shape) != llvm::ArrayRef<int64_t>(V.Shape))
        return fileError(Given.Paths.at(Spec.Value),
                         "has shape " + formatShape(T.Shape) + " but the model "
                         "binds input '" + V.Name + "' to " + formatShape(V.Shape));
      if (isFloatingPoint(V.Type)) {
        std::vector<float> F;
        if (!T.toFloats(F))
          return fileError(Given.Paths.at(Spec.Value), "cannot be read as float32");
        D.Floats[Spec.Value] = std::move(F);
      } else {
        auto H = std::make_shared<HostTensor>();
        H->Type = V.Type;
        H->Shape = V.Shape;
        if (!T.toInt64s(H->Ints))
          return fileError(Given.Paths.at(Spec.Value), "cannot be read as integers");
        D.Ints[Spec.Value] = H;
      }
      continue;
    }
    Rng R = streamRng(O.Seed, Stream::Inputs, I);
    if (isFloatingPoint(V.Type)) {
      std::vector<float> F(N);
      for (float &X : F)
        X = static_cast<float>(R.normal());
      D.Floats[Spec.Value] = std::move(F);
      continue;
    }
    auto H = std::make_shared<HostTensor>();
    H->Type = V.Type;
    H->Shape = V.Shape;
    H->Ints.assign(N, 0);
    if (Spec.TokenIds)
      for (int64_t &X : H->Ints)
        X = static_cast<int64_t>(R.below(Spec.Range));
    D.Ints[Spec.Value] = H;
  }
  // Shape inference knows every input: integer ones fold their subgraphs,
  // small float ones settle value-dependent shapes (Range bounds). The
  // executor still computes float values itself.
  for (const auto &[V, H] : D.Ints)
    D.Known[G.Values[V].Name] = H;
  for (const auto &[V, F] : D.Floats) {
    if (F.size() > MaxFoldElements)
      continue;
    auto H = std::make_shared<HostTensor>();
    H->Type = G.Values[V].Type;
    H->Shape = G.Values[V].Shape;
    H->Reals.assign(F.begin(), F.end());
    D.Known[G.Values[V].Name] = H;
  }
  return D;
}

/// The reference loss on the device: targets (ce) or r (projection).
class ReferenceLoss {
public:
  ReferenceLoss(const ReferenceSetup &S) : S(S) {}

  llvm::Error prepare(const Model &M, Executor &E, const ProbeOptions &O) {
    int64_t N = S.Rows, V = S.Vocab;
    if (llvm::Error Err = checkHostDraw(
            M, S.Loss == LossKind::CrossEntropy ? N : N * V,
            S.Loss == LossKind::CrossEntropy ? "the targets" : "the projection r"))
      return Err;
    if (S.Loss == LossKind::CrossEntropy) {
      std::vector<int64_t> T(N);
      if (!O.TargetsFile.empty()) {
        auto F = loadTensorFile(O.TargetsFile);
        if (!F)
          return F.takeError();
        if (!F->Tensor.toInt64s(T) || isFloatingPoint(F->Tensor.Type) ||
            static_cast<int64_t>(T.size()) != N)
          return fileError(O.TargetsFile,
                           "ce targets must be integers, " + llvm::Twine(N) +
                               " of them (one per output row), got " +
                               dataTypeName(F->Tensor.Type) + " " +
                               formatShape(F->Tensor.Shape));
        for (int64_t X : T)
          if (X < 0 || X >= V)
            return fileError(O.TargetsFile, "target " + llvm::Twine(X) +
                                                " is outside [0, " + llvm::Twine(V) + ")");
      } else {
        Rng R = streamRng(O.Seed, Stream::Targets);
        for (int64_t &X : T)
          X = static_cast<int64_t>(R.below(V));
      }
      auto A = E.uploadInts(T);
      if (!A)
        return A.takeError();
      Targets = *A;
      auto RL = E.allocate({N});
      if (!RL)
        return RL.takeError();
      RowLoss = *RL;
      return llvm::Error::success();
    }
    std::vector<float> Data(N * V);
    if (!O.TargetsFile.empty()) {
      auto F = loadTensorFile(O.TargetsFile);
      if (!F)
        return F.takeError();
      if (!isFloatingPoint(F->Tensor.Type) || !F->Tensor.toFloats(Data) ||
          static_cast<int64_t>(Data.size()) != N * V)
        return fileError(O.TargetsFile,
                         "the projection r must be floating point with " +
                             llvm::Twine(N * V) + " elements (the first "
                             "output's shape), got " +
                             dataTypeName(F->Tensor.Type) + " " +
                             formatShape(F->Tensor.Shape));
    } else {
      Rng R = streamRng(O.Seed, Stream::Projection);
      for (float &X : Data)
        X = static_cast<float>(R.normal());
    }
    auto T = E.allocate({N * V});
    if (!T)
      return T.takeError();
    E.backend().upload(T->Buf->base(), 0, Data.data(), Data.size() * 4);
    Proj = *T;
    return llvm::Error::success();
  }

  /// The loss at the executor's current output; with Seed, dL/dy too.
  llvm::Expected<double> evaluate(Executor &E, Tensor *Seed) {
    const Tensor *Y = E.value(S.Output);
    if (!Y)
      return makeError("the first output was not computed");
    Backend &B = E.backend();
    int64_t N = S.Rows, V = S.Vocab;
    Tensor G;
    if (Seed) {
      auto T = E.allocate(Y->Shape);
      if (!T)
        return T.takeError();
      G = *T;
    }
    double Loss = 0;
    if (S.Loss == LossKind::CrossEntropy) {
      B.crossEntropy(N, V, Y->ptr(), Targets.ints(), RowLoss.ptr(), G.ptr(),
                     1.0f / N);
      std::vector<float> Rows(N);
      B.download(Rows.data(), RowLoss.Buf->base(), 0, N * 4);
      for (float R : Rows)
        Loss += R;
      Loss /= N;
    } else {
      Loss = B.dot(Proj.ptr(), Y->ptr(), N * V) / N;
      if (Seed)
        B.copy(denseCopy(N * V, 1.0f / N), Proj.ptr(), G.ptr(), false);
    }
    if (Seed)
      *Seed = G;
    return Loss;
  }

private:
  static CopyDesc denseCopy(int64_t N, float Alpha) {
    CopyDesc D;
    D.Rank = 1;
    D.Shape[0] = N;
    D.SrcStride[0] = D.DstStride[0] = 1;
    D.Alpha = Alpha;
    return D;
  }
  const ReferenceSetup &S;
  DeviceArray Targets;
  Tensor RowLoss, Proj;
};

double norm(Backend &B, const Tensor &T) {
  return std::sqrt(B.sumSquares(T.ptr(), 1, T.size(), T.size()));
}

/// Gradient norms of parameters and sub-parameters, sorted by name.
std::vector<ParamGrad> gradientNorms(const Model &M, Executor &E,
                                     llvm::ArrayRef<SubParameter> Subs) {
  const Graph &G = M.G;
  Backend &B = E.backend();
  std::vector<ParamGrad> Out;
  for (ValueId V : E.parameters()) {
    ParamGrad P;
    P.Name = G.Values[V].Name;
    P.Shape = G.Values[V].Shape;
    if (const Tensor *T = E.gradient(V))
      P.GradNorm = norm(B, *T);
    Out.push_back(P);
  }
  for (const SubParameter &S : Subs) {
    const Tensor *T = E.gradient(S.Weight);
    const Dims &W = G.Values[S.Weight].Shape;
    if (!T || W.size() != 2)
      continue;
    ParamGrad P;
    P.Name = S.Name;
    P.Parent = G.Values[S.Weight].Name;
    int64_t Width = S.End - S.Begin;
    double Sq = S.Axis == 0
                    ? B.sumSquares(T->ptr() + S.Begin * W[1], Width, W[1], W[1])
                    : B.sumSquares(T->ptr() + S.Begin, W[0], Width, W[1]);
    P.GradNorm = std::sqrt(Sq);
    P.Shape = S.Axis == 0 ? Dims{Width, W[1]} : Dims{W[0], Width};
    Out.push_back(P);
  }
  std::sort(Out.begin(), Out.end(), [](const ParamGrad &A, const ParamGrad &B) {
    return A.Name < B.Name;
  });
  return Out;
}

/// One optimizer update of every parameter; returns ‖ΔW‖/‖W‖ by name.
class Optimizer {
public:
  Optimizer(const ProbeOptions &O) : O(O) {}

  llvm::Expected<std::vector<std::pair<std::string, double>>>
  step(const Model &M, Executor &E, unsigned Step) {
    Backend &B = E.backend();
    std::vector<std::pair<std::string, double>> Ratios;
    for (ValueId V : E.parameters()) {
      Tensor *W = E.initializer(V);
      const Tensor *G = E.gradient(V);
      if (!W)
        continue;
      double Before = norm(B, *W), Delta = 0;
      if (G && O.Optimizer == OptimizerKind::SGD) {
        Delta = B.sgdUpdate(W->ptr(), G->ptr(), W->size(),
                            static_cast<float>(O.LearningRate));
      } else if (G) {
        auto &[Mom, Var] = State[V];
        if (!Mom) {
          auto A = E.allocate(W->Shape), C = E.allocate(W->Shape);
          if (!A || !C)
            return llvm::joinErrors(A.takeError(), C.takeError());
          Mom = *A, Var = *C;
          B.fill(Mom.ptr(), Mom.size(), 0.0f);
          B.fill(Var.ptr(), Var.size(), 0.0f);
        }
        AdamParams P;
        P.Lr = static_cast<float>(O.LearningRate);
        P.Step = Step;
        Delta = B.adamUpdate(W->ptr(), G->ptr(), Mom.ptr(), Var.ptr(),
                             W->size(), P);
      }
      // A zero weight that moves has an infinite ratio (JSON: null).
      double Ratio = Before > 0   ? std::sqrt(Delta) / Before
                     : Delta > 0 ? std::numeric_limits<double>::infinity()
                                 : 0.0;
      Ratios.emplace_back(M.G.Values[V].Name, Ratio);
    }
    std::sort(Ratios.begin(), Ratios.end());
    return Ratios;
  }

private:
  const ProbeOptions &O;
  std::map<ValueId, std::pair<Tensor, Tensor>> State;
};

} // namespace

static llvm::Expected<ProbeResult> probeModel(Model &M, const ProbeOptions &O);

llvm::Expected<ProbeResult> gradlint::runProbe(Model &M, const ProbeOptions &O) {
  // Every error names the model, those of the executor and backend too.
  auto R = probeModel(M, O);
  if (!R)
    return inFile(M.Info.Path, R.takeError());
  return R;
}

static llvm::Expected<ProbeResult> probeModel(Model &M, const ProbeOptions &O) {
  auto Given = loadGiven(M, O);
  if (!Given)
    return Given.takeError();
  DimBindings Dims = O.Dims;
  bindFromGiven(M, *Given, Dims);
  auto Shapes = inferShapes(M, Dims);
  if (!Shapes)
    return Shapes.takeError();
  auto Setup = referenceSetup(M, O.Loss ? &*O.Loss : nullptr);
  if (!Setup)
    return Setup.takeError();
  // Sub-parameters as `check` names them: found on the shapes alone, before
  // the inputs' values fold anything.
  std::vector<SubParameter> Subs = findSubParameters(M);
  auto Inputs = drawInputs(M, *Setup, *Given, O);
  if (!Inputs)
    return Inputs.takeError();
  // Again, with the integer inputs known: everything foldable folds.
  Shapes = inferShapes(M, Dims, Inputs->Known);
  if (!Shapes)
    return Shapes.takeError();

  auto Device = createBackend(O.Device, O.Threads);
  if (!Device)
    return Device.takeError();
  ExecutorOptions EO;
  EO.Gradients = !O.ForwardOnly;
  EO.LossOutputs = {Setup->Output};
  EO.ActivationGradients = O.Activations;
  EO.FuseNorms = O.FuseNorms;
  EO.OnForwardValue = O.OnForwardValue;
  auto E = Executor::create(M, **Device, EO);
  if (!E)
    return E.takeError();
  for (auto &[V, H] : Inputs->Ints)
    if (llvm::Error Err = (*E)->setInput(V, H))
      return Err;
  for (auto &[V, F] : Inputs->Floats)
    if (llvm::Error Err = (*E)->setInput(V, F))
      return Err;

  ReferenceLoss Loss(*Setup);
  if (llvm::Error Err = Loss.prepare(M, **E, O))
    return Err;

  ProbeResult R;
  R.LossKind = lossName(Setup->Loss).str();
  R.Device = O.Device;
  R.Seed = O.Seed;
  R.Dims = Shapes->Dims;
  R.Rows = Setup->Rows;
  R.Vocab = Setup->Vocab;
  unsigned Steps = O.ForwardOnly ? 0 : O.Steps;
  unsigned Total = Steps + 1, Done = 0;

  // One pass: forward, loss, and (unless Last or ForwardOnly) backward.
  auto Pass = [&](bool Backward) -> llvm::Expected<double> {
    auto Start = std::chrono::steady_clock::now();
    if (llvm::Error Err = (*E)->forward())
      return Err;
    Tensor Seed;
    auto L = Loss.evaluate(**E, Backward ? &Seed : nullptr);
    if (!L)
      return L.takeError();
    if (Backward)
      if (llvm::Error Err = (*E)->backward(Setup->Output, Seed))
        return Err;
    (*E)->backend().synchronize();
    R.PassSeconds.push_back(std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - Start)
                                .count());
    if (O.OnProgress)
      O.OnProgress(++Done, Total);
    return *L;
  };

  auto L0 = Pass(!O.ForwardOnly);
  if (!L0)
    return L0.takeError();
  R.Loss0 = *L0;
  if (!O.ForwardOnly) {
    R.Parameters = gradientNorms(M, **E, Subs);
    for (const auto &[V, Norm] : (*E)->activationGradNorms())
      R.ActivationGradNorms[M.G.Values[V].Name] = Norm;
  }
  Optimizer Opt(O);
  for (unsigned K = 1; K <= Steps; ++K) {
    auto Ratios = Opt.step(M, **E, K);
    if (!Ratios)
      return Ratios.takeError();
    (*E)->clearGradients();
    auto L = Pass(K < Steps);
    if (!L)
      return L.takeError();
    R.Steps.push_back({K, *L, std::move(*Ratios)});
  }
  R.PeakBytes = (*E)->memory().Peak;
  return R;
}
