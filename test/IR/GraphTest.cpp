//===- GraphTest.cpp - graph construction and ordering --------------------===//
#include "gradlint/IR/Graph.h"
#include <catch2/catch.hpp>

using namespace gradlint;

namespace {
/// Adds node Name reading Ins and writing Outs.
void addNode(Graph &G, const std::string &Name,
             std::initializer_list<const char *> Ins,
             std::initializer_list<const char *> Outs) {
  Node N;
  N.Name = Name;
  N.OpType = "Relu";
  N.Kind = OpKind::Relu;
  for (const char *I : Ins)
    N.Inputs.push_back(G.getOrAddValue(I));
  for (const char *O : Outs)
    N.Outputs.push_back(G.getOrAddValue(O));
  G.Nodes.push_back(N);
}

/// The error's message, or "" for success.
std::string messageOf(llvm::Error E) {
  return E ? llvm::toString(std::move(E)) : std::string();
}
} // namespace

TEST_CASE("topological order puts producers first and keeps file order",
          "[ir]") {
  Graph G;
  ValueId X = G.getOrAddValue("x");
  G.Values[X].IsInput = true;
  G.Inputs.push_back(X);
  // File order lists consumers before producers.
  addNode(G, "d", {"c", "b"}, {"d"});
  addNode(G, "c", {"a"}, {"c"});
  addNode(G, "b", {"a"}, {"b"});
  addNode(G, "a", {"x"}, {"a"});
  REQUIRE(messageOf(G.finalize()) == "");
  std::vector<std::string> Names;
  for (NodeId N : G.Order)
    Names.push_back(G.Nodes[N].Name);
  // a first; then c before b, as in the file; d last.
  CHECK(Names == std::vector<std::string>{"a", "c", "b", "d"});
  CHECK(G.Values[G.findValue("a")].Users.size() == 2);
}

TEST_CASE("a cycle is reported with the nodes on it", "[ir]") {
  Graph G;
  ValueId X = G.getOrAddValue("x");
  G.Values[X].IsInput = true;
  addNode(G, "ok", {"x"}, {"y"});
  addNode(G, "p", {"y", "r"}, {"q"});
  addNode(G, "r", {"q"}, {"r"});
  std::string Msg = messageOf(G.finalize());
  CHECK(Msg.find("cycle") != std::string::npos);
  CHECK(Msg.find("'p'") != std::string::npos);
  CHECK(Msg.find("'r'") != std::string::npos);
  CHECK(Msg.find("'ok'") == std::string::npos);
}

TEST_CASE("a node feeding itself is a cycle", "[ir]") {
  Graph G;
  addNode(G, "self", {"s"}, {"s"});
  CHECK(messageOf(G.finalize()).find("'self'") != std::string::npos);
}
