//===- GatherGradTest.cpp - Gather and GatherElements gradients -----------===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

TEST_CASE("probe gradients: gathers", "[probe][grad]") {
  GradCase Embed;
  Embed.Name = "Gather axis 0, repeated and negative indices";
  Embed.Build = [](OnnxBuilder &G) {
    param(G, "table", {5, 3});
    G.int64Init("ids", {2, 3}, {0, 3, 3, -1, 2, 0});
    G.node("Gather", {"table", "ids"}, {"y"});
  };
  GradCase Axis1;
  Axis1.Name = "Gather axis 1";
  Axis1.Build = [](OnnxBuilder &G) {
    param(G, "x", {2, 4, 3});
    G.int64Init("i", {3}, {1, 1, 3});
    G.node("Gather", {"x", "i"}, {"y"}, {{"axis", int64_t(1)}});
  };
  GradCase Elements;
  Elements.Name = "GatherElements axis 1";
  Elements.Build = [](OnnxBuilder &G) {
    param(G, "x", {2, 3});
    G.int64Init("i", {2, 3}, {0, 2, 2, 1, 1, -3});
    G.node("GatherElements", {"x", "i"}, {"y"}, {{"axis", int64_t(1)}});
  };
  checkTable({Embed, Axis1, Elements});
}
