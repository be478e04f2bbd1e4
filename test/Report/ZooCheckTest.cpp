//===- ZooCheckTest.cpp - issue 5's acceptance on the PyTorch zoo ---------===//
//
// Healthy standard models (PyTorch's default initialization, pre- and
// post-norm encoders and decoders up to 12 blocks) get no warning or error;
// each pathological family gets the rule that names its cause, at the
// blocks where it happens.
//
//===----------------------------------------------------------------------===//
#include "Zoo.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Rules/Engine.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Structure/Structure.h"
#include <catch2/catch.hpp>
#include <set>

using namespace gradlint;
using namespace gradlint::test;

namespace {

std::vector<Finding> checkModel(const ZooModel &Z) {
  auto M = loadModel(Z.modelPath());
  REQUIRE(bool(M));
  auto Shapes = inferShapes(**M, Z.dims());
  REQUIRE(bool(Shapes));
  ModelStructure S = recoverStructure(**M);
  auto A = analyze(**M);
  if (!A)
    FAIL(llvm::toString(A.takeError()));
  RuleRunOptions O;
  O.Enabled.assign(allRules().begin(), allRules().end());
  return runRules(**M, *A, S, O).Findings;
}

std::string describe(const std::vector<Finding> &Fs) {
  std::string Out;
  for (const Finding &F : Fs)
    Out += "\n  " + severityName(F.Level).str() + " [" + F.Code.str() +
           "] block " + std::to_string(F.Block) + ": " + F.Message;
  return Out;
}

const ZooModel &zooModel(const std::vector<ZooModel> &Zoo,
                         const std::string &Name) {
  for (const ZooModel &Z : Zoo)
    if (Z.Name == Name)
      return Z;
  FAIL("zoo model " << Name << " is missing");
  return Zoo.front();
}

int64_t metaInt(const ZooModel &Z, llvm::StringRef Key) {
  auto V = Z.Meta.getInteger(Key);
  return V ? *V : -1;
}

/// The blocks where rule Code reported, over every finding of the model.
std::set<int> blocksOf(const std::vector<Finding> &Fs, llvm::StringRef Code) {
  std::set<int> Out;
  for (const Finding &F : Fs)
    if (F.Code == Code)
      Out.insert(F.Block);
  return Out;
}

std::set<int> allBlocks(const ZooModel &Z) {
  std::set<int> Out;
  for (int64_t I = 0; I < metaInt(Z, "blocks"); ++I)
    Out.insert(int(I));
  return Out;
}

/// The model's findings must include Code at exactly the blocks Want.
void expectAt(const std::string &Name, llvm::StringRef Code,
              std::set<int> Want = {}) {
  std::vector<ZooModel> Zoo = zooModels();
  const ZooModel &Z = zooModel(Zoo, Name);
  if (Want.empty())
    Want = allBlocks(Z);
  std::vector<Finding> Fs = checkModel(Z);
  INFO(Name << ":" << describe(Fs));
  std::set<int> Got = blocksOf(Fs, Code);
  Got.erase(-1); // findings outside blocks (the LM head) are not the point here
  CHECK(Got == Want);
}

/// A stack-wide finding (missing residuals, norms) at block 0 that lists
/// every block of the model.
void expectStack(const std::string &Name, llvm::StringRef Code) {
  std::vector<ZooModel> Zoo = zooModels();
  const ZooModel &Z = zooModel(Zoo, Name);
  std::vector<Finding> Fs = checkModel(Z);
  INFO(Name << ":" << describe(Fs));
  const Finding *Hit = nullptr;
  for (const Finding &F : Fs)
    if (F.Code == Code)
      Hit = &F;
  REQUIRE(Hit);
  CHECK(Hit->Block == 0);
  CHECK(Hit->Level == Severity::Warning);
  if (const llvm::json::Array *Missing =
          Hit->Evidence.getArray("blocks_missing"))
    CHECK(int64_t(Missing->size()) == metaInt(Z, "blocks"));
}

} // namespace

TEST_CASE("zoo: healthy standard models get no warning or error",
          "[zoo][check]") {
  unsigned Checked = 0;
  for (const ZooModel &Z : zooModels()) {
    llvm::StringRef Kind = *Z.Meta.getString("kind"),
                    Norm = *Z.Meta.getString("norm");
    bool Healthy = (Kind == "encoder" || Kind == "decoder") &&
                   *Z.Meta.getString("init") == "torch" &&
                   *Z.Meta.getNumber("init_scale") == 1.0 &&
                   (Norm == "pre" || Norm == "post") &&
                   *Z.Meta.getBoolean("residual") &&
                   *Z.Meta.getString("scale_style") != "none" &&
                   metaInt(Z, "blocks") <= 12;
    if (!Healthy)
      continue;
    ++Checked;
    std::vector<Finding> Fs = checkModel(Z);
    std::vector<Finding> Bad;
    for (const Finding &F : Fs)
      if (F.Level != Severity::Note)
        Bad.push_back(F);
    INFO(Z.Name << ":" << describe(Bad));
    CHECK(Bad.empty());
  }
  CHECK(Checked >= 25);
}

TEST_CASE("zoo: weights at 0.05x are named by init-scale in every block",
          "[zoo][check]") {
  expectAt("gpt_L6_init0.05", "GL111");
  expectAt("gpt_L6_init0.05", "GL101"); // and their gradients vanish
}

TEST_CASE("zoo: weights at 8x are named by init-scale in every block",
          "[zoo][check]") {
  expectAt("gpt_L6_init8_o14", "GL111");
}

TEST_CASE("zoo: tanh under 8x weights: init-scale and saturated attention",
          "[zoo][check]") {
  // Its tanh inputs have std 4.6 (measured in PyTorch: 28% at |x| >= 5), below
  // GL109's 50%; the cause is the initialization, and attention saturates.
  expectAt("gpt_L8_tanh_init8", "GL111");
  expectAt("gpt_L8_tanh_init8", "GL103");
}

TEST_CASE("zoo: saturated sigmoid without norms in every block",
          "[zoo][check]") {
  expectAt("gpt_L8_sigmoid_nonorm_init3", "GL109");
  expectStack("gpt_L8_sigmoid_nonorm_init3", "GL107");
}

TEST_CASE("zoo: unscaled attention logits in every block", "[zoo][check]") {
  expectAt("gpt_L2_unscaled_nofold", "GL102");
  expectAt("gpt_L6_unscaled_d128_o14", "GL102");
}

TEST_CASE("zoo: stacks without normalization", "[zoo][check]") {
  expectStack("gpt_L6_nonorm", "GL107");
  expectStack("gpt_L12_nonorm_o14", "GL107");
}

TEST_CASE("zoo: a stack without residual connections", "[zoo][check]") {
  expectStack("gpt_L6_noresidual", "GL106");
}

TEST_CASE("zoo: a deep post-norm stack", "[zoo][check]") {
  std::vector<ZooModel> Zoo = zooModels();
  std::vector<Finding> Fs = checkModel(zooModel(Zoo, "gpt_L24_post_o14"));
  INFO(describe(Fs));
  CHECK(blocksOf(Fs, "GL108") == std::set<int>{0});
}
