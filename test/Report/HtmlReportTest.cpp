//===- HtmlReportTest.cpp - `gradlint check --html` -----------------------===//
//
// The page escapes every string the model supplies, makes no requests, is
// byte-identical for the same input, stays small for deep models, and leaves
// check's output and exit code alone. test/Report/browser/ renders it in a
// real browser.
//
//===----------------------------------------------------------------------===//
#include "OnnxBuilder.h"
#include "TestPaths.h"
#include "Zoo.h"
#include "gradlint/Analysis/Analysis.h"
#include "gradlint/Loader/Loader.h"
#include "gradlint/Report/Check.h"
#include "gradlint/Report/Html.h"
#include "gradlint/Rules/Engine.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Structure/Structure.h"
#include "llvm/Support/Base64.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/SHA256.h"
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>

using namespace gradlint;
using namespace gradlint::test;

namespace {

/// check's pipeline and the page, as `check --html` writes it.
std::string renderPage(const std::string &Path, const DimBindings &Dims = {},
                       const std::string &CommandLine = "gradlint check model.onnx") {
  auto M = loadModel(Path);
  if (!M)
    FAIL(llvm::toString(M.takeError()));
  auto Shapes = inferShapes(**M, Dims);
  if (!Shapes)
    FAIL(llvm::toString(Shapes.takeError()));
  ModelStructure S = recoverStructure(**M);
  auto A = analyze(**M);
  if (!A)
    FAIL(llvm::toString(A.takeError()));
  RuleRunOptions O;
  O.Enabled.assign(allRules().begin(), allRules().end());
  CheckReport R(**M, *Shapes, S, *A);
  R.Findings = runRules(**M, *A, S, O).Findings;
  R.Enabled = O.Enabled;
  R.DisplayPath = Path;
  HtmlReportInput In(R);
  In.CommandLine = CommandLine;
  std::string Page;
  llvm::raw_string_ostream OS(Page);
  if (llvm::Error E = writeHtmlReport(OS, In))
    FAIL(llvm::toString(std::move(E)));
  return OS.str();
}

size_t count(llvm::StringRef Haystack, llvm::StringRef Needle) {
  return Haystack.count(Needle);
}

/// Appends a ModelProto doc_string (field 6) to serialized bytes; protobuf
/// takes the last occurrence, and OnnxBuilder has no setter for it.
std::string withDocString(std::string Bytes, const std::string &Doc) {
  Bytes += '\x32';
  for (uint64_t N = Doc.size();; N >>= 7) {
    Bytes += static_cast<char>((N & 0x7f) | (N > 0x7f ? 0x80 : 0));
    if (N <= 0x7f)
      break;
  }
  return Bytes + Doc;
}

// Payloads that would mark the page if they ever ran or broke out of text.
const std::string ScriptNode =
    "<script>document.documentElement.setAttribute('data-pwned','node')</script>";
const std::string AttrInit =
    "W\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','init')\">";
const std::string TanhNode = "</code></p><svg onload=alert(1)>\xff\xfe'";
const std::string Producer =
    "</title></script><script>document.documentElement.setAttribute('data-pwned','producer')"
    "</script>\xE2\x80\xA8";
const std::string DocText =
    "</pre></details><script>document.documentElement.setAttribute('data-pwned','doc')</script>"
    "\xE2\x80\xA9 -->";
const std::string HostileDim = "<b>batch</b>";

/// x[HostileDim, 16] -> MatMul(W = 3.0) -> Tanh: GL109 and GL111 name the node and
/// the initializer, so the hostile names reach findings, table and chart.
std::string writeHostileModel(const std::string &Dir) {
  OnnxBuilder B;
  B.producer(Producer)
      .input("x", 1, {HostileDim, int64_t(16)})
      .floatInit(AttrInit, {16, 16}, std::vector<float>(256, 3.0f))
      .node("MatMul", {"x", AttrInit}, {"h"}, {}, "", ScriptNode)
      .node("Tanh", {"h"}, {"y"}, {}, "", TanhNode)
      .output("y");
  std::string Path = Dir + "/hostile.onnx";
  writeFile(Path, withDocString(B.serialize(), DocText));
  return Path;
}

struct TempDir {
  std::string Path = makeTempDir("html");
  ~TempDir() { std::system(("rm -rf '" + Path + "'").c_str()); }
};

std::string slurpFile(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(In)), std::istreambuf_iterator<char>());
}

/// Text between <script> and </script> of the page's (only) executable script.
std::string inlineScript(const std::string &Page) {
  size_t Begin = Page.rfind("<script>");
  size_t End = Page.find("</script>", Begin);
  REQUIRE(Begin != std::string::npos);
  REQUIRE(End != std::string::npos);
  return Page.substr(Begin + 8, End - Begin - 8);
}

/// Attributes of the tag starting at S (after '<'), as a browser splits them.
std::vector<std::pair<std::string, std::string>> attributes(llvm::StringRef &S) {
  std::vector<std::pair<std::string, std::string>> Out;
  S = S.drop_while([](char C) { return !isspace(C) && C != '>' && C != '/'; }); // name
  while (true) {
    S = S.drop_while([](char C) { return isspace(C) || C == '/'; });
    if (S.empty() || S[0] == '>')
      return Out;
    size_t End = S.find_first_of(" \t\n=>/");
    std::string Name = S.take_front(End).lower();
    S = S.drop_front(std::min(End, S.size()));
    std::string Value;
    if (S.consume_front("=")) {
      if (!S.empty() && (S[0] == '"' || S[0] == '\'')) {
        size_t Close = S.find(S[0], 1);
        Value = S.slice(1, Close).str();
        S = S.drop_front(std::min(Close + 1, S.size()));
      } else {
        size_t Close = S.find_first_of(" \t\n>");
        Value = S.take_front(Close).str();
        S = S.drop_front(std::min(Close, S.size()));
      }
    }
    Out.push_back({Name, Value});
  }
}

void requireNoRequests(const std::string &Page) {
  // Model text is escaped, so each '<' + letter before the script opens one
  // of our tags: links only to fragments of the page, no sources, no handlers.
  llvm::StringRef Markup = llvm::StringRef(Page).take_front(Page.rfind("<script>"));
  unsigned Links = 0, Tags = 0;
  for (size_t At; (At = Markup.find('<')) != llvm::StringRef::npos;) {
    Markup = Markup.drop_front(At + 1);
    if (Markup.empty() || !isalpha(Markup[0]))
      continue;
    ++Tags;
    for (auto &[Name, Value] : attributes(Markup)) {
      INFO("attribute " << Name << "=\"" << Value << "\"");
      CHECK(llvm::StringRef(Name).startswith("on") == false);
      if (Name == "href" || Name == "src" || Name == "srcset" || Name == "action" ||
          Name == "formaction" || Name == "xlink:href" || Name == "poster" ||
          Name == "background") {
        CHECK(llvm::StringRef(Value).startswith("#"));
        ++Links;
      }
    }
  }
  CHECK(Tags > 100);
  CHECK(Links > 0); // the table of contents
  CHECK(count(Page, "@import") == 0);
  CHECK(count(Page, "url(") == 0);
  CHECK(count(Page, "<link") == 0);
  CHECK(count(Page, "<iframe") == 0);
  CHECK(count(Page, "<img") == 0);
  CHECK(count(Page, "fetch(") == 0);
  CHECK(count(Page, "XMLHttpRequest") == 0);
  // And the browser would refuse anything else.
  CHECK(count(Page, "Content-Security-Policy\" content=\"default-src 'none';") == 1);
}

} // namespace

TEST_CASE("html: hostile names, producer and doc string render as text", "[html]") {
  TempDir D;
  std::string Page = renderPage(writeHostileModel(D.Path), {{HostileDim, 4}});
  // Exactly the page's own two script elements: the data island and the code.
  CHECK(count(Page, "<script") == 2);
  CHECK(count(Page, "</script") == 2);
  CHECK(count(Page, "<script type=\"application/json\" id=\"gradlint-data\">") == 1);
  CHECK(count(Page, "<img") == 0);
  CHECK(count(Page, "<svg onload") == 0);
  CHECK(count(Page, "<b>batch") == 0);
  CHECK(count(Page, "</title></script>") == 0);
  // The payloads are there, as text.
  CHECK(count(Page, "&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;,&#39;node&#39;)") > 0);
  CHECK(count(Page, "W&quot;&gt;&lt;img src=x onerror=&quot;") > 0);
  CHECK(count(Page, "&lt;/code&gt;&lt;/p&gt;&lt;svg onload=alert(1)&gt;") > 0);
  CHECK(count(Page, "&lt;/pre&gt;&lt;/details&gt;&lt;script&gt;") > 0);
  CHECK(count(Page, "&lt;b&gt;batch&lt;/b&gt;=4") > 0);
  // The JSON island: no '<', '>' or '&', and no raw U+2028/U+2029.
  size_t Begin = Page.find("id=\"gradlint-data\">");
  std::string Island = Page.substr(Begin + 19, Page.find("</script>", Begin) - Begin - 19);
  CHECK(Island.find_first_of("<>&") == std::string::npos);
  CHECK(count(Island, "\\u003c/title\\u003e\\u003c/script\\u003e") == 1);
  CHECK(count(Island, "\\u2028") == 1);
  CHECK(count(Island, "\xE2\x80\xA8") == 0);
  CHECK(count(Island, "\xE2\x80\xA9") == 0);
  // Bytes that are not UTF-8 were escaped when the model was read (\xff);
  // the whole page is valid UTF-8.
  auto *Bytes = reinterpret_cast<const llvm::UTF8 *>(Page.data());
  CHECK(llvm::isLegalUTF8String(&Bytes, Bytes + Page.size()));
  CHECK(count(Page, "\\xff\\xfe&#39;") > 0);
  requireNoRequests(Page);
}

TEST_CASE("html: no requests, and the CSP hash admits exactly the page's script",
          "[html]") {
  std::string Page = renderPage(GRADLINT_SOURCE_DIR "/examples/tiny-gpt.onnx");
  requireNoRequests(Page);
  CHECK(count(Page, "http://") == 0);
  CHECK(count(Page, "https://") == 0);
  std::string Script = inlineScript(Page);
  auto Hash = llvm::SHA256::hash(llvm::arrayRefFromStringRef(Script));
  CHECK(count(Page, "script-src 'sha256-" + llvm::encodeBase64(Hash) + "'") == 1);
  // The sections the issue asks for.
  for (const char *Id : {"id=\"flow-chart\"", "id=\"architecture\"", "id=\"findings\"",
                         "id=\"param-table\"", "id=\"coverage\""})
    CHECK(count(Page, Id) == 1);
  CHECK(count(Page, "<button type=\"button\" class=\"blk sev-ok\" data-block=\"") == 2);
  CHECK(count(Page, "@media print") == 1);
  CHECK(count(Page, "prefers-color-scheme:dark") == 1);
}

TEST_CASE("html: the same input gives the same bytes", "[html]") {
  std::string A = renderPage(GRADLINT_SOURCE_DIR "/examples/tiny-gpt.onnx");
  std::string B = renderPage(GRADLINT_SOURCE_DIR "/examples/tiny-gpt.onnx");
  CHECK(A.size() > 10000);
  CHECK(A == B);
  TempDir D;
  std::string Model = writeHostileModel(D.Path);
  CHECK(renderPage(Model, {{HostileDim, 4}}) == renderPage(Model, {{HostileDim, 4}}));
}

TEST_CASE("html: a deep residual stack stays small", "[html]") {
  // 96 residual MatMul+Tanh layers: every parameter, finding and chart point
  // costs bytes, so the size grows linearly and must stay modest.
  TempDir D;
  OnnxBuilder B;
  B.input("x", 1, {std::string("batch"), int64_t(32)});
  std::string Prev = "x";
  for (int L = 0; L < 96; ++L) {
    std::string N = std::to_string(L);
    std::vector<float> W(32 * 32);
    for (size_t I = 0; I < W.size(); ++I)
      W[I] = ((I * 2654435761u + L) % 1000) / 1000.0f * 0.3f - 0.15f;
    B.floatInit("layers." + N + ".weight", {32, 32}, W)
        .node("MatMul", {Prev, "layers." + N + ".weight"}, {"m" + N})
        .node("Tanh", {"m" + N}, {"t" + N})
        .node("Add", {Prev, "t" + N}, {"r" + N});
    Prev = "r" + N;
  }
  B.output(Prev);
  std::string Path = B.writeTo(D.Path + "/deep.onnx");
  std::string Page = renderPage(Path);
  CHECK(count(Page, "<tr data-block=") == 96);
  CHECK(Page.size() < 600 * 1024);
}

TEST_CASE("html: check --html keeps stdout and the exit code", "[html][cli]") {
  TempDir D;
  std::string Model = writeHostileModel(D.Path);
  std::string Base = std::string(GRADLINT_BINARY) + " check '" + Model + "' --dim '" + HostileDim + "=4'";
  std::string Out1, Err1, Out2, Err2;
  int Code1 = runCommand(Base, Out1, Err1);
  int Code2 = runCommand(Base + " --html " + D.Path + "/r.html", Out2, Err2);
  CHECK(Code1 == Code2);
  CHECK(Out1 == Out2);
  CHECK(Err2.empty());
  std::string Page = slurpFile(D.Path + "/r.html");
  CHECK(count(Page, "</html>") == 1);
  // The command as typed, escaped.
  CHECK(count(Page, "--dim &#39;&lt;b&gt;batch&lt;/b&gt;=4&#39; --html") == 1);
  // Twice: identical bytes.
  std::string Out3, Err3;
  runCommand(Base + " --html " + D.Path + "/r.html", Out3, Err3);
  CHECK(slurpFile(D.Path + "/r.html") == Page);
}

TEST_CASE("html: --probe, --steps and --seed need what they qualify", "[html][cli]") {
  std::string Tiny = GRADLINT_SOURCE_DIR "/examples/tiny-gpt.onnx";
  std::string Out, Err;
  CHECK(runCommand(std::string(GRADLINT_BINARY) + " check " + Tiny + " --probe", Out, Err) == 2);
  CHECK(Err.find("--probe needs --html") != std::string::npos);
  CHECK(runCommand(std::string(GRADLINT_BINARY) + " check " + Tiny + " --html /dev/null --steps 2",
                   Out, Err) == 2);
  CHECK(Err.find("--steps and --seed need --probe") != std::string::npos);
  CHECK(runCommand(std::string(GRADLINT_BINARY) + " check " + Tiny + " --html -", Out, Err) == 2);
  CHECK(Err.find("--html needs a file name") != std::string::npos);
  CHECK(Out.empty());
  CHECK(runCommand(std::string(GRADLINT_BINARY) + " check " + Tiny +
                       " --html /nonexistent-dir/r.html",
                   Out, Err) == 2);
  CHECK(Err.find("/nonexistent-dir/r.html") != std::string::npos);
}

TEST_CASE("html: --probe --steps overlays measurements and training curves", "[html][cli]") {
  TempDir D;
  std::string Out, Err;
  int Code = runCommand(std::string(GRADLINT_BINARY) + " check " GRADLINT_SOURCE_DIR
                        "/examples/tiny-gpt.onnx --html " + D.Path +
                            "/p.html --probe --steps 3 --seed 1",
                        Out, Err);
  CHECK(Code == 0);
  std::string Page = slurpFile(D.Path + "/p.html");
  CHECK(count(Page, "id=\"probe\"") == 1);
  CHECK(count(Page, "id=\"loss-chart\" data-points=\"4\"") == 1);
  CHECK(count(Page, "id=\"update-chart\"") == 1);
  CHECK(count(Page, "<th scope=\"col\" data-sort=\"num\" aria-sort=\"none\"><button "
                    "type=\"button\">measured</button></th>") == 1);
  CHECK(count(Page, "id=\"flow-chart\" data-points=") == 1);
  CHECK(count(Page, "data-measured=\"0\" data-series-count") <= 2); // loss and update charts
  CHECK(count(Page, "<path class=\"ms\"") > 10);
}

TEST_CASE("html: the 48-layer zoo model's page is under 2 MB", "[html][zoo]") {
  for (const ZooModel &Z : zooModels()) {
    if (Z.Name != "gpt_L48_d32_o14")
      continue;
    std::string Page = renderPage(Z.modelPath(), Z.dims());
    INFO(Z.Name << ": " << Page.size() << " bytes");
    CHECK(Page.size() < 2 * 1024 * 1024);
    CHECK(count(Page, "class=\"blk sev-") == 48);
    return;
  }
  GRADLINT_SKIP("gpt_L48_d32_o14 is not in the zoo");
}

TEST_CASE("html: a probe that cannot run is noted in the page, not fatal", "[html][cli]") {
  // The analysis passes gradients through an unknown op; the probe has no
  // kernel for it.
  TempDir D;
  OnnxBuilder B;
  B.opset("com.example", 1)
      .input("x", 1, {std::string("batch"), int64_t(8)})
      .floatInit("W", {8, 8}, std::vector<float>(64, 0.1f))
      .node("MatMul", {"x", "W"}, {"h"}, {}, "", "/fc/MatMul")
      .node("Mystery", {"h"}, {"y"}, {}, "com.example", "/odd/Mystery")
      .valueInfo("y", 1, {std::string("batch"), int64_t(8)})
      .output("y");
  std::string Model = B.writeTo(D.Path + "/odd.onnx");
  std::string Base = std::string(GRADLINT_BINARY) + " check " + Model;
  std::string Out1, Err1, Out2, Err2;
  int Code1 = runCommand(Base, Out1, Err1);
  int Code2 = runCommand(Base + " --html " + D.Path + "/r.html --probe", Out2, Err2);
  CHECK(Code1 == Code2);
  CHECK(Out1 == Out2);
  CHECK(Err2.find("warning: --probe: ") != std::string::npos);
  std::string Page = slurpFile(D.Path + "/r.html");
  CHECK(count(Page, "The probe did not run: ") == 1);
  CHECK(count(Page, "<code>com.example:Mystery</code>") + count(Page, "<code>Mystery</code>") >= 1);
}
