//===- Executor.cpp - values, lifetimes and the forward/backward walk -----===//
//
// Planning is in Plan.cpp. Forward: nodes in topological order; a value is
// released after its last consumer unless a gradient rule saved it.
// Backward: nodes in reverse order; a gradient is complete when its
// producer's turn comes, and released after it.
//
//===----------------------------------------------------------------------===//
#include "HostEval.h"
#include "OpContext.h"
#include "Ops/Layout.h"
#include "Ops/Rules.h"
#include "gradlint/Shape/ShapeInference.h"
#include "gradlint/Support/Error.h"
#include <cmath>

using namespace gradlint;
using namespace gradlint::probe;

//===--- Tensors ----------------------------------------------------------===//

DeviceAllocation::DeviceAllocation(Backend &B, DeviceBuffer Buf,
                                   MemoryCounter &Counter)
    : B(B), Buf(Buf), Counter(Counter), Bytes(Buf.Bytes) {
  Counter.Live += Bytes;
  Counter.Peak = std::max(Counter.Peak, Counter.Live);
}

DeviceAllocation::~DeviceAllocation() {
  Counter.Live -= Bytes;
  B.release(Buf);
}

int64_t Tensor::size() const { return product(Shape); }

Tensor Tensor::view(llvm::ArrayRef<int64_t> NewShape) const {
  assert(product(NewShape) == size() && "view changes the element count");
  Tensor T = *this;
  T.Shape.assign(NewShape.begin(), NewShape.end());
  return T;
}

std::vector<float> gradlint::probe::toFloats(const HostTensor &H) {
  std::vector<float> Out(H.size());
  for (size_t I = 0; I != Out.size(); ++I)
    Out[I] = static_cast<float>(H.real(I));
  return Out;
}

//===--- Context ----------------------------------------------------------===//

OpContext::OpContext(const Model &M, Backend &B, ExecutorOptions O)
    : G(M.G), B(B), Opts(std::move(O)), M(M) {}

OpContext::~OpContext() {
  // Tensors release into the backend; drop them before anything else goes.
  SavedByNode.clear();
  Slots.clear();
  Initializers.clear();
}

bool OpContext::isFloat(ValueId V) const {
  return isFloatingPoint(G.Values[V].Type);
}

bool OpContext::onHost(const Node &N, unsigned I) const {
  ValueId V = N.input(I);
  return V != NoId && !Slots[V].F && Slots[V].H;
}

llvm::Error OpContext::nodeError(const Node &N, const llvm::Twine &Msg) const {
  return fileError(M.Info.Path, "node '" + N.Name + "' (" + N.OpType +
                                    "): " + Msg);
}

llvm::Expected<Tensor> OpContext::alloc(llvm::ArrayRef<int64_t> Shape) {
  int64_t N = product(Shape);
  auto Buf = B.allocate(static_cast<uint64_t>(std::max<int64_t>(N, 1)) * 4);
  if (!Buf)
    return Buf.takeError();
  Tensor T;
  T.Buf = std::make_shared<DeviceAllocation>(B, *Buf, Memory);
  T.Shape.assign(Shape.begin(), Shape.end());
  return T;
}

llvm::Expected<DeviceArray> OpContext::uploadInts(llvm::ArrayRef<int64_t> Data) {
  auto Buf = B.allocate(std::max<uint64_t>(Data.size(), 1) * 8);
  if (!Buf)
    return Buf.takeError();
  DeviceArray A;
  A.Buf = std::make_shared<DeviceAllocation>(B, *Buf, Memory);
  A.Size = Data.size();
  B.upload(Buf->Base, 0, Data.data(), Data.size() * 8);
  return A;
}

llvm::Expected<DeviceArray> OpContext::uploadMask(const HostTensor &H) {
  std::vector<uint8_t> Bytes(H.size());
  for (size_t I = 0; I != Bytes.size(); ++I)
    Bytes[I] = H.real(I) != 0;
  auto Buf = B.allocate(std::max<uint64_t>(Bytes.size(), 1));
  if (!Buf)
    return Buf.takeError();
  DeviceArray A;
  A.Buf = std::make_shared<DeviceAllocation>(B, *Buf, Memory);
  A.Size = Bytes.size();
  B.upload(Buf->Base, 0, Bytes.data(), Bytes.size());
  return A;
}

llvm::Expected<Tensor> OpContext::in(const Node &N, unsigned I) {
  ValueId V = N.input(I);
  if (V == NoId)
    return nodeError(N, "input " + llvm::Twine(I) + " is missing");
  Slot &S = Slots[V];
  if (S.F)
    return S.F;
  if (!S.H)
    return nodeError(N, "input '" + G.Values[V].Name + "' has no value");
  std::vector<float> Data = toFloats(*S.H);
  auto T = alloc(S.H->Shape);
  if (!T)
    return T.takeError();
  B.upload(T->Buf->base(), 0, Data.data(), Data.size() * 4);
  S.F = *T;
  return *T;
}

llvm::Expected<HostPtr> OpContext::hostIn(const Node &N, unsigned I) {
  ValueId V = N.input(I);
  if (V == NoId)
    return nullptr;
  Slot &S = Slots[V];
  if (S.H)
    return S.H;
  if (!S.F)
    return nodeError(N, "input '" + G.Values[V].Name + "' has no value");
  auto H = std::make_shared<HostTensor>();
  H->Type = G.Values[V].Type;
  H->Shape = S.F.Shape;
  std::vector<float> Data(S.F.size());
  B.download(Data.data(), S.F.Buf->base(), S.F.Offset * 4, Data.size() * 4);
  if (H->isInteger())
    for (float F : Data)
      H->Ints.push_back(static_cast<int64_t>(F));
  else
    H->Reals.assign(Data.begin(), Data.end());
  S.H = H;
  return S.H;
}

void OpContext::reportValue(ValueId V, const Tensor &T) {
  if (!Opts.OnForwardValue)
    return;
  B.synchronize();
  if (const void *Base = B.hostAddress(T.Buf->base())) {
    Opts.OnForwardValue(V, static_cast<const float *>(Base) + T.Offset, T.Shape);
    return;
  }
  std::vector<float> Data(T.size());
  B.download(Data.data(), T.Buf->base(), T.Offset * 4, Data.size() * 4);
  Opts.OnForwardValue(V, Data.data(), T.Shape);
}

llvm::Error OpContext::out(const Node &N, unsigned I, Tensor T) {
  if (I >= N.Outputs.size() || N.Outputs[I] == NoId)
    return llvm::Error::success();
  ValueId V = N.Outputs[I];
  if (T.size() != product(shape(V)))
    return nodeError(N, "output '" + G.Values[V].Name + "' has " +
                            llvm::Twine(T.size()) + " elements, its shape " +
                            formatShape(shape(V)) + " says " +
                            llvm::Twine(product(shape(V))));
  Slots[V].F = T.view(shape(V));
  Slots[V].H.reset();
  reportValue(V, Slots[V].F);
  return llvm::Error::success();
}

void OpContext::outHost(const Node &N, unsigned I, HostPtr H) {
  if (I >= N.Outputs.size() || N.Outputs[I] == NoId)
    return;
  Slots[N.Outputs[I]].H = std::move(H);
  Slots[N.Outputs[I]].F = Tensor();
}

bool OpContext::backwardNeeded(const Node &N) const {
  return Opts.Gradients && RunsBackward[idOf(N)];
}

void OpContext::save(const Node &N, Tensor T) {
  SavedByNode[idOf(N)].Tensors.push_back(std::move(T));
}
void OpContext::save(const Node &N, DeviceArray A) {
  SavedByNode[idOf(N)].Arrays.push_back(std::move(A));
}
void OpContext::save(const Node &N, HostPtr H) {
  SavedByNode[idOf(N)].Hosts.push_back(std::move(H));
}
const Tensor &OpContext::saved(const Node &N, unsigned I) const {
  return SavedByNode[idOf(N)].Tensors[I];
}
const DeviceArray &OpContext::savedArray(const Node &N, unsigned I) const {
  return SavedByNode[idOf(N)].Arrays[I];
}
const HostPtr &OpContext::savedHost(const Node &N, unsigned I) const {
  return SavedByNode[idOf(N)].Hosts[I];
}

//===--- Gradients --------------------------------------------------------===//

const Tensor *OpContext::gradOut(const Node &N, unsigned I) const {
  if (I >= N.Outputs.size() || N.Outputs[I] == NoId)
    return nullptr;
  const Tensor &T = Slots[N.Outputs[I]].Grad;
  return T ? &T : nullptr;
}

bool OpContext::needsGrad(const Node &N, unsigned I) const {
  ValueId V = N.input(I);
  return V != NoId && NeedsGrad[V] && I < 32 &&
         (Flows[idOf(N)] >> I & 1);
}

llvm::Expected<OpContext::GradTarget> OpContext::gradIn(const Node &N,
                                                        unsigned I,
                                                        bool Zeroed) {
  Slot &S = Slots[N.input(I)];
  if (S.Grad)
    return GradTarget{S.Grad, true};
  auto T = alloc(shape(N.input(I)));
  if (!T)
    return T.takeError();
  S.Grad = *T;
  if (Zeroed)
    B.fill(T->ptr(), T->size(), 0.0f);
  return GradTarget{*T, Zeroed};
}

llvm::Error OpContext::passGrad(const Node &N, unsigned I, const Tensor &G,
                                float Alpha) {
  if (!needsGrad(N, I))
    return llvm::Error::success();
  Slot &S = Slots[N.input(I)];
  const Dims &Shape = shape(N.input(I));
  if (!S.Grad && Alpha == 1 && AliasedThisNode.insert(G.Buf.get()).second) {
    S.Grad = G.view(Shape);
    return llvm::Error::success();
  }
  auto T = gradIn(N, I);
  if (!T)
    return T.takeError();
  B.copy(denseCopy(G.size(), Alpha), G.ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}

llvm::Error OpContext::reduceGradInto(const Node &N, unsigned I,
                                      const Tensor &G, float Alpha) {
  if (!needsGrad(N, I))
    return llvm::Error::success();
  const Dims &Shape = shape(N.input(I));
  if (product(Shape) == G.size())
    return passGrad(N, I, G, Alpha);
  auto D = sumToDesc(G.Shape, Shape);
  if (!D)
    return nodeError(N, llvm::toString(D.takeError()));
  D->Scale = Alpha;
  auto T = gradIn(N, I);
  if (!T)
    return T.takeError();
  B.reduce(*D, G.ptr(), T->T.ptr(), T->Acc);
  return llvm::Error::success();
}

llvm::Error OpContext::init() {
  if (llvm::Error E = plan())
    return E;
  return bindConstants();
}

//===--- Passes -----------------------------------------------------------===//

llvm::Error OpContext::runHost(const Node &N) {
  std::vector<HostPtr> In;
  for (unsigned I = 0; I != N.Inputs.size(); ++I) {
    auto H = hostIn(N, I);
    if (!H)
      return H.takeError();
    In.push_back(*H);
  }
  std::vector<HostPtr> Out = evalOnHost(G, N, In);
  for (unsigned I = 0; I != N.Outputs.size(); ++I) {
    if (N.Outputs[I] == NoId || !Runs[idOf(N)])
      continue;
    if (I >= Out.size() || !Out[I])
      return nodeError(N, "cannot be evaluated on " +
                              dataTypeName(G.Values[N.Outputs[I]].Type) +
                              " data in the probe");
    outHost(N, I, Out[I]);
  }
  return llvm::Error::success();
}

llvm::Error OpContext::runForward() {
  // Drop what the previous pass computed; inputs, initializers and folded
  // constants stay bound.
  for (ValueId V = 0; V != G.Values.size(); ++V) {
    const Value &Val = G.Values[V];
    if (Val.Initializer >= 0 || Val.IsInput || FromConst[V])
      continue;
    Slots[V].F = Tensor();
    Slots[V].H.reset();
  }
  for (auto &S : SavedByNode)
    S = Saved();
  for (ValueId V : G.Inputs) {
    if (!Slots[V].F && !Slots[V].H)
      return fileError(M.Info.Path, "input '" + G.Values[V].Name +
                                        "' has no value");
    if (Slots[V].F)
      reportValue(V, Slots[V].F);
  }
  std::vector<unsigned> Left = Uses;
  auto Release = [&](ValueId V) {
    const Value &Val = G.Values[V];
    if (Keep[V] || Val.Initializer >= 0 || Val.IsInput || FromConst[V] ||
        KeepHost[V])
      return;
    Slots[V].F = Tensor();
    Slots[V].H.reset();
  };
  for (NodeId Id : G.Order) {
    if (!Runs[Id])
      continue;
    const Node &N = *Exec[Id];
    const OpRule &R = *Rules[Id];
    ValueId Out0 = N.Outputs.empty() ? NoId : N.Outputs[0];
    bool HostPath = Out0 == NoId || !isFloat(Out0);
    llvm::Error E = llvm::Error::success();
    if (HostPath && !R.HostCapable)
      E = runHost(N);
    else if (R.Forward)
      E = R.Forward(*this, N, R);
    else
      E = nodeError(N, "has no float32 kernel in the probe");
    if (E)
      return E;
    for (ValueId Out : N.Outputs)
      if (Out != NoId && !Left[Out])
        Release(Out);
    for (ValueId In : N.Inputs)
      if (In != NoId && --Left[In] == 0)
        Release(In);
  }
  return llvm::Error::success();
}

llvm::Error OpContext::runBackward(ValueId Output, Tensor Seed) {
  for (Slot &S : Slots)
    S.Grad = Tensor();
  ActNorms.clear();
  if (Output >= NeedsGrad.size())
    return makeError("backward() from a value the graph does not have");
  Slots[Output].Grad = std::move(Seed);
  auto Record = [&](ValueId V) {
    if (!Opts.ActivationGradients || G.Values[V].Initializer >= 0 ||
        !Slots[V].Grad)
      return;
    const Tensor &T = Slots[V].Grad;
    ActNorms[V] = std::sqrt(B.sumSquares(T.ptr(), 1, T.size(), T.size()));
  };
  for (auto It = G.Order.rbegin(); It != G.Order.rend(); ++It) {
    if (!RunsBackward[*It])
      continue;
    const Node &N = *Exec[*It];
    bool Any = false;
    for (ValueId Out : N.Outputs)
      if (Out != NoId && Slots[Out].Grad) {
        Any = true;
        Record(Out);
      }
    if (Any) {
      AliasedThisNode.clear();
      if (llvm::Error E = Rules[*It]->Backward(*this, N, *Rules[*It]))
        return E;
    }
    for (ValueId Out : N.Outputs)
      if (Out != NoId)
        Slots[Out].Grad = Tensor();
    SavedByNode[*It] = Saved();
  }
  AliasedThisNode.clear();
  for (ValueId V : G.Inputs)
    Record(V);
  return llvm::Error::success();
}

//===--- Executor ---------------------------------------------------------===//

Executor::Executor(std::unique_ptr<OpContext> C) : C(std::move(C)) {}
Executor::~Executor() = default;

llvm::Expected<std::unique_ptr<Executor>>
Executor::create(const Model &M, Backend &B, ExecutorOptions Options) {
  auto C = std::make_unique<OpContext>(M, B, std::move(Options));
  if (llvm::Error E = C->init())
    return E;
  return std::unique_ptr<Executor>(new Executor(std::move(C)));
}

static llvm::Error checkInput(const OpContext &C, ValueId V, size_t N) {
  const Value &Val = C.G.Values[V];
  if (!Val.IsInput)
    return makeError("'" + Val.Name + "' is not a graph input");
  if (static_cast<int64_t>(N) != product(Val.Shape))
    return makeError("input '" + Val.Name + "' is given " + llvm::Twine(N) +
                     " elements but its shape " + formatShape(Val.Shape) +
                     " has " + llvm::Twine(product(Val.Shape)));
  return llvm::Error::success();
}

llvm::Error Executor::setInput(ValueId V, llvm::ArrayRef<float> Data) {
  if (llvm::Error E = checkInput(*C, V, Data.size()))
    return E;
  if (!C->isFloat(V))
    return makeError("input '" + C->G.Values[V].Name + "' is not floating point");
  auto T = C->alloc(C->shape(V));
  if (!T)
    return T.takeError();
  C->B.upload(T->Buf->base(), 0, Data.data(), Data.size() * 4);
  C->Slots[V].F = *T;
  C->Slots[V].H.reset();
  return llvm::Error::success();
}

llvm::Error Executor::setInput(ValueId V, std::shared_ptr<const HostTensor> Data) {
  if (llvm::Error E = checkInput(*C, V, Data->size()))
    return E;
  if (C->isFloat(V))
    return setInput(V, toFloats(*Data));
  auto H = std::make_shared<HostTensor>(*Data);
  H->Shape = C->shape(V);
  C->Slots[V].H = H;
  C->Slots[V].F = Tensor();
  return llvm::Error::success();
}

llvm::Error Executor::forward() { return C->runForward(); }

const Tensor *Executor::value(ValueId V) const {
  const Tensor &T = C->Slots[V].F;
  return T ? &T : nullptr;
}

llvm::Expected<HostTensor> Executor::fetch(ValueId V) {
  const OpContext::Slot &S = C->Slots[V];
  if (S.H) {
    HostTensor H = *S.H;
    if (C->isFloat(V) && H.isInteger()) {
      for (int64_t I : H.Ints)
        H.Reals.push_back(static_cast<double>(I));
      H.Ints.clear();
    }
    H.Type = C->G.Values[V].Type;
    return H;
  }
  if (!S.F)
    return makeError("value '" + C->G.Values[V].Name + "' was not kept");
  HostTensor H;
  H.Type = C->G.Values[V].Type;
  H.Shape = S.F.Shape;
  std::vector<float> Data(S.F.size());
  C->B.download(Data.data(), S.F.Buf->base(), S.F.Offset * 4, Data.size() * 4);
  H.Reals.assign(Data.begin(), Data.end());
  return H;
}

llvm::Error Executor::backward(ValueId Output, Tensor Seed) {
  if (!C->Opts.Gradients)
    return makeError("the executor was created without gradients");
  return C->runBackward(Output, std::move(Seed));
}

const Tensor *Executor::gradient(ValueId V) const {
  const Tensor &T = C->Slots[V].Grad;
  return T ? &T : nullptr;
}

void Executor::clearGradients() {
  for (OpContext::Slot &S : C->Slots)
    S.Grad = Tensor();
}

llvm::ArrayRef<ValueId> Executor::parameters() const { return C->Params; }

Tensor *Executor::initializer(ValueId V) {
  auto It = C->Initializers.find(V);
  return It == C->Initializers.end() ? nullptr : &It->second;
}

const std::map<ValueId, double> &Executor::activationGradNorms() const {
  return C->ActNorms;
}

llvm::Expected<Tensor> Executor::allocate(llvm::ArrayRef<int64_t> Shape) {
  return C->alloc(Shape);
}

llvm::Expected<DeviceArray> Executor::uploadInts(llvm::ArrayRef<int64_t> Data) {
  return C->uploadInts(Data);
}

Backend &Executor::backend() { return C->B; }
const MemoryCounter &Executor::memory() const { return C->Memory; }
