//===- Topology.cpp - topological order and cycles (Boost.Graph) ----------===//
//
// The one translation unit that includes Boost.Graph for ordering.
//
//===----------------------------------------------------------------------===//
#include "gradlint/IR/Graph.h"
#include "gradlint/Support/Error.h"
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <algorithm>
#include <queue>

using namespace gradlint;

namespace gradlint {
llvm::Error computeTopologicalOrder(Graph &G);
}

using NodeGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;

/// Names up to three nodes of one cycle, found as a non-trivial strongly
/// connected component (or a node that feeds itself).
static std::string describeCycle(const Graph &G, const NodeGraph &BG) {
  std::vector<int> Component(G.Nodes.size());
  int Count = boost::strong_components(BG, Component.data());
  std::vector<unsigned> Sizes(Count, 0);
  for (int C : Component)
    ++Sizes[C];
  for (NodeId N = 0; N != G.Nodes.size(); ++N) {
    bool SelfLoop = false;
    for (ValueId Out : G.Nodes[N].Outputs)
      if (Out != NoId)
        for (NodeId U : G.Values[Out].Users)
          SelfLoop |= U == N;
    if (Sizes[Component[N]] < 2 && !SelfLoop)
      continue;
    std::string Names;
    unsigned Listed = 0;
    for (NodeId M = 0; M != G.Nodes.size() && Listed < 3; ++M)
      if (Component[M] == Component[N]) {
        Names += (Listed++ ? ", '" : "'") + G.Nodes[M].Name + "'";
      }
    return Names;
  }
  return "<unknown>";
}

llvm::Error gradlint::computeTopologicalOrder(Graph &G) {
  size_t N = G.Nodes.size();
  NodeGraph BG(N);
  std::vector<unsigned> InDegree(N, 0);
  for (NodeId Id = 0; Id != N; ++Id)
    for (ValueId Out : G.Nodes[Id].Outputs)
      if (Out != NoId)
        for (NodeId User : G.Values[Out].Users) {
          boost::add_edge(Id, User, BG);
          ++InDegree[User];
        }
  // Kahn's algorithm with a min-heap keeps file order among independent
  // nodes, so the order (and every report built on it) is deterministic.
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<NodeId>> Ready;
  for (NodeId Id = 0; Id != N; ++Id)
    if (InDegree[Id] == 0)
      Ready.push(Id);
  G.Order.clear();
  G.Order.reserve(N);
  while (!Ready.empty()) {
    NodeId Id = Ready.top();
    Ready.pop();
    G.Order.push_back(Id);
    for (auto [E, End] = boost::out_edges(Id, BG); E != End; ++E) {
      NodeId T = boost::target(*E, BG);
      if (--InDegree[T] == 0)
        Ready.push(T);
    }
  }
  if (G.Order.size() != N)
    return makeError("graph has a cycle through nodes " + describeCycle(G, BG));
  return llvm::Error::success();
}
