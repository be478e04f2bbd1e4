//===- MovementGradTest.cpp - reshapes, slices, concat, split, expand -----===//
#include "GradCheck.h"
#include <catch2/catch.hpp>

using namespace gradlint::test;

namespace {
/// x [2, 3, 4] through Body (which must produce "y").
GradCase moved(const std::string &Name,
               std::function<void(OnnxBuilder &)> Body,
               std::vector<int64_t> Shape = {2, 3, 4}) {
  GradCase C;
  C.Name = Name;
  C.Build = [=](OnnxBuilder &G) {
    param(G, "x", Shape);
    Body(G);
  };
  return C;
}
} // namespace

TEST_CASE("probe gradients: data movement", "[probe][grad]") {
  checkTable({
      moved("Transpose", [](OnnxBuilder &G) {
        G.node("Transpose", {"x"}, {"y"}, {{"perm", std::vector<int64_t>{2, 0, 1}}});
      }),
      moved("Transpose default", [](OnnxBuilder &G) { G.node("Transpose", {"x"}, {"y"}); }),
      moved("Reshape", [](OnnxBuilder &G) {
        G.constantInt64("s", {2}, {6, -1});
        G.node("Reshape", {"x", "s"}, {"r"});
        G.node("Mul", {"r", "r"}, {"y"}); // a view feeding a nonlinear op
      }),
      moved("Flatten", [](OnnxBuilder &G) { G.node("Flatten", {"x"}, {"y"}, {{"axis", int64_t(2)}}); }),
      moved("Squeeze/Unsqueeze", [](OnnxBuilder &G) {
        G.constantInt64("a", {1}, {1});
        G.node("Unsqueeze", {"x", "a"}, {"u"});
        G.node("Squeeze", {"u", "a"}, {"y"});
      }),
      moved("Slice steps and negatives", [](OnnxBuilder &G) {
        G.constantInt64("st", {2}, {-1, 0});
        G.constantInt64("en", {2}, {-100, 3});
        G.constantInt64("ax", {2}, {2, 1});
        G.constantInt64("sp", {2}, {-2, 2});
        G.node("Slice", {"x", "st", "en", "ax", "sp"}, {"y"});
      }),
      moved("Slice twice (accumulates)", [](OnnxBuilder &G) {
        G.constantInt64("s0", {1}, {0});
        G.constantInt64("e0", {1}, {3});
        G.constantInt64("s1", {1}, {1});
        G.constantInt64("e1", {1}, {4});
        G.constantInt64("ax", {1}, {2});
        G.node("Slice", {"x", "s0", "e0", "ax"}, {"p"});
        G.node("Slice", {"x", "s1", "e1", "ax"}, {"q"});
        G.node("Mul", {"p", "q"}, {"y"});
      }),
      moved("Concat with itself", [](OnnxBuilder &G) {
        G.node("Concat", {"x", "x"}, {"y"}, {{"axis", int64_t(1)}});
      }),
      moved("Split then Mul", [](OnnxBuilder &G) {
        G.constantInt64("sz", {2}, {1, 3});
        G.node("Split", {"x", "sz"}, {"p", "q"}, {{"axis", int64_t(-1)}});
        G.node("Mul", {"p", "q"}, {"y"});
      }),
      moved("Split one output unused", [](OnnxBuilder &G) {
        G.node("Split", {"x"}, {"p", "q", "r"}, {{"axis", int64_t(1)}});
        G.node("Mul", {"p", "r"}, {"y"});
      }),
      moved("Expand", [](OnnxBuilder &G) {
        G.constantInt64("s", {4}, {2, 2, 3, 4});
        G.node("Expand", {"x", "s"}, {"y"});
      }, {1, 3, 1}),
      moved("Trilu lower k=1", [](OnnxBuilder &G) {
        G.constantInt64("k", {}, {1});
        G.node("Trilu", {"x", "k"}, {"y"}, {{"upper", int64_t(0)}});
      }),
      moved("Trilu upper", [](OnnxBuilder &G) { G.node("Trilu", {"x"}, {"y"}); }),
  });
}
