//===- Graph.cpp - graph IR construction and validation -------------------===//
#include "gradlint/IR/Graph.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/DenseSet.h"

using namespace gradlint;

const Attribute *Node::attr(llvm::StringRef N) const {
  for (const Attribute &A : Attrs)
    if (A.Name == N)
      return &A;
  return nullptr;
}

int64_t Node::getInt(llvm::StringRef N, int64_t Default) const {
  const Attribute *A = attr(N);
  return A && A->Kind == AttrKind::Int ? A->I : Default;
}

float Node::getFloat(llvm::StringRef N, float Default) const {
  const Attribute *A = attr(N);
  return A && A->Kind == AttrKind::Float ? A->F : Default;
}

llvm::StringRef Node::getString(llvm::StringRef N,
                                llvm::StringRef Default) const {
  const Attribute *A = attr(N);
  return A && A->Kind == AttrKind::String ? llvm::StringRef(A->S) : Default;
}

llvm::ArrayRef<int64_t> Node::getInts(llvm::StringRef N) const {
  const Attribute *A = attr(N);
  return A && A->Kind == AttrKind::Ints ? llvm::ArrayRef<int64_t>(A->Ints)
                                        : llvm::ArrayRef<int64_t>();
}

ValueId Graph::findValue(llvm::StringRef Name) const {
  auto It = ByName.find(Name);
  return It == ByName.end() ? NoId : It->second;
}

ValueId Graph::getOrAddValue(llvm::StringRef Name) {
  auto [It, Inserted] = ByName.try_emplace(Name, Values.size());
  if (Inserted) {
    Values.emplace_back();
    Values.back().Name = Name.str();
  }
  return It->second;
}

int64_t ModelInfo::onnxOpset() const {
  auto It = Opsets.find("");
  if (It != Opsets.end())
    return It->second;
  It = Opsets.find("ai.onnx");
  return It == Opsets.end() ? 0 : It->second;
}

// Defined in Topology.cpp, the one translation unit that includes Boost.Graph.
namespace gradlint {
llvm::Error computeTopologicalOrder(Graph &G);
}

llvm::Error Graph::finalize() {
  for (Value &V : Values) {
    V.Producer = NoId;
    V.Users.clear();
  }
  for (NodeId N = 0; N != Nodes.size(); ++N) {
    for (ValueId Out : Nodes[N].Outputs) {
      if (Out == NoId)
        continue;
      Value &V = Values[Out];
      if (V.Producer != NoId)
        return makeError("value '" + V.Name + "' is produced by both node '" +
                         Nodes[V.Producer].Name + "' and node '" +
                         Nodes[N].Name + "'");
      if (V.Initializer >= 0 || V.IsInput)
        return makeError("node '" + Nodes[N].Name + "' writes '" + V.Name +
                         "', which is already a graph input or initializer");
      V.Producer = N;
    }
  }
  for (NodeId N = 0; N != Nodes.size(); ++N) {
    llvm::SmallDenseSet<ValueId, 4> Seen;
    for (ValueId In : Nodes[N].Inputs) {
      if (In == NoId)
        continue;
      const Value &V = Values[In];
      if (V.Producer == NoId && V.Initializer < 0 && !V.IsInput)
        return makeError("node '" + Nodes[N].Name + "' (" + Nodes[N].OpType +
                         ") reads '" + V.Name +
                         "', which no node, input or initializer defines");
      if (Seen.insert(In).second)
        Values[In].Users.push_back(N);
    }
  }
  for (ValueId Out : Outputs) {
    const Value &V = Values[Out];
    if (V.Producer == NoId && V.Initializer < 0 && !V.IsInput)
      return makeError("graph output '" + V.Name + "' is never defined");
  }
  return computeTopologicalOrder(*this);
}
