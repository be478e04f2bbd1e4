//===- Config.cpp - gradlint.toml -----------------------------------------===//
#include "gradlint/Rules/Config.h"
#include "gradlint/Rules/Registry.h"
#include "gradlint/Rules/Toml.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <set>

using namespace gradlint;

namespace {

class ConfigReader {
public:
  ConfigReader(const TomlDocument &Doc, CheckConfig &Out)
      : Doc(Doc), Out(Out) {}

  llvm::Error read() {
    for (const TomlTable &T : Doc.Tables)
      if (llvm::Error E = table(T))
        return E;
    return llvm::Error::success();
  }

private:
  const TomlDocument &Doc;
  CheckConfig &Out;

  llvm::Error error(unsigned Line, const llvm::Twine &What) const {
    return makeError(Doc.Path + ":" + llvm::Twine(Line) + ": " + What);
  }

  llvm::Error expect(const TomlEntry &E, TomlValue::Kind K,
                     llvm::StringRef Want) const {
    if (E.Value.K == K)
      return llvm::Error::success();
    return error(E.Line, "'" + E.Key + "' must be " + Want + ", not a " +
                             E.Value.kindName());
  }

  llvm::Error oneOf(const TomlEntry &E,
                    llvm::ArrayRef<llvm::StringRef> Allowed) {
    if (llvm::Error Err = expect(E, TomlValue::Kind::String, "a string"))
      return Err;
    if (llvm::is_contained(Allowed, E.Value.Str))
      return llvm::Error::success();
    return error(E.Line, "'" + E.Key + "' must be one of " +
                             llvm::join(Allowed, ", ") + ", not '" +
                             E.Value.Str + "'");
  }

  llvm::Error table(const TomlTable &T) {
    std::string Name = T.name();
    if (T.Path.empty()) {
      if (!T.Entries.empty())
        return error(T.Entries[0].Line,
                     "'" + T.Entries[0].Key +
                         "' must be inside a table such as [check]");
      return llvm::Error::success();
    }
    if (T.ArrayElement) {
      if (Name == "suppress")
        return suppress(T);
      return error(T.Line, "unknown array of tables [[" + Name + "]]");
    }
    if (Name == "check")
      return check(T);
    if (Name == "dims")
      return dims(T);
    if (Name == "rules")
      return T.Entries.empty() ? llvm::Error::success()
                               : error(T.Entries[0].Line,
                                       "put rule settings in [rules.<code>]");
    if (T.Path.size() == 2 && T.Path[0] == "rules")
      return rule(T);
    if (Name == "suppress")
      return error(T.Line, "write suppressions as [[suppress]], one per entry");
    return error(T.Line, "unknown table [" + Name +
                             "]; expected [check], [dims], [rules.<code>] or "
                             "[[suppress]]");
  }

  llvm::Error check(const TomlTable &T) {
    for (const TomlEntry &E : T.Entries) {
      llvm::Error Err = llvm::Error::success();
      if (E.Key == "select" || E.Key == "ignore") {
        Err = expect(E, TomlValue::Kind::StringArray, "an array of strings");
        if (!Err) {
          auto &Slot = E.Key == "select" ? Out.Select : Out.Ignore;
          Slot = E.Value.Strings;
          // Validate now, so the error names this line.
          if (auto Sel = selectRules(E.Value.Strings, {}, "'" + E.Key + "'");
              !Sel)
            Err = error(E.Line, llvm::toString(Sel.takeError()));
        }
      } else if (E.Key == "fail-on") {
        Err = oneOf(E, {"error", "warning", "note", "never"});
        Out.FailOn = E.Value.Str;
      } else if (E.Key == "precision") {
        Err = oneOf(E, {"fp32", "fp16", "bf16"});
        Out.Precision = E.Value.Str;
      } else if (E.Key == "loss") {
        Err = oneOf(E, {"ce", "projection"});
        Out.Loss = E.Value.Str;
      } else {
        Err =
            error(E.Line, "unknown key '" + E.Key +
                              "' in [check]; expected select, ignore, fail-on, "
                              "precision or loss");
      }
      if (Err)
        return Err;
    }
    return llvm::Error::success();
  }

  llvm::Error dims(const TomlTable &T) {
    for (const TomlEntry &E : T.Entries) {
      if (llvm::Error Err = expect(E, TomlValue::Kind::Integer, "an integer"))
        return Err;
      if (E.Value.Int <= 0)
        return error(E.Line, "dimension '" + E.Key + "' must be positive");
      Out.Dims[E.Key] = E.Value.Int;
    }
    return llvm::Error::success();
  }

  llvm::Error rule(const TomlTable &T) {
    const Rule *R = findRule(T.Path[1]);
    if (!R)
      return error(T.Line, "no rule named '" + T.Path[1] +
                               "'; 'gradlint rules' lists them");
    if (Out.Rules.count(R))
      return error(T.Line, "settings for " + R->Code + " given twice");
    RuleSettings &S = Out.Rules[R];
    for (const TomlEntry &E : T.Entries) {
      if (E.Key == "severity") {
        if (llvm::Error Err = oneOf(E, {"error", "warning", "note", "off"}))
          return Err;
        if (E.Value.Str == "off")
          S.Off = true;
        else
          S.Level = parseSeverity(E.Value.Str);
        continue;
      }
      const RuleOption *Opt = nullptr;
      for (const RuleOption &O : R->Options)
        if (O.Name == E.Key)
          Opt = &O;
      if (!Opt) {
        std::vector<std::string> Names = {"severity"};
        for (const RuleOption &O : R->Options)
          Names.push_back(O.Name.str());
        return error(E.Line, "unknown option '" + E.Key + "' for " + R->Code +
                                 " " + R->Name + "; it takes " +
                                 llvm::join(Names, ", "));
      }
      if (!E.Value.isNumber())
        return error(E.Line, "option '" + E.Key + "' must be a number, not a " +
                                 E.Value.kindName());
      S.Options[E.Key] = E.Value.number();
    }
    return llvm::Error::success();
  }

  llvm::Error globs(const TomlEntry &E, std::vector<std::string> &Out) {
    if (llvm::Error Err =
            expect(E, TomlValue::Kind::StringArray, "an array of strings"))
      return Err;
    for (const std::string &G : E.Value.Strings) {
      auto P = llvm::GlobPattern::create(G);
      if (!P)
        return error(E.Line,
                     "bad glob '" + G + "': " + llvm::toString(P.takeError()));
      Out.push_back(G);
    }
    return llvm::Error::success();
  }

  llvm::Error suppress(const TomlTable &T) {
    Suppression S;
    S.Line = T.Line;
    for (const TomlEntry &E : T.Entries) {
      if (E.Key == "rules") {
        if (llvm::Error Err =
                expect(E, TomlValue::Kind::StringArray, "an array of strings"))
          return Err;
        auto Sel = selectRules(E.Value.Strings, {}, "'rules'");
        if (!Sel)
          return error(E.Line, llvm::toString(Sel.takeError()));
        S.Rules = *Sel;
      } else if (E.Key == "parameters") {
        if (llvm::Error Err = globs(E, S.Parameters))
          return Err;
      } else if (E.Key == "nodes") {
        if (llvm::Error Err = globs(E, S.Nodes))
          return Err;
      } else if (E.Key == "reason") {
        if (llvm::Error Err = expect(E, TomlValue::Kind::String, "a string"))
          return Err;
        S.Reason = E.Value.Str;
      } else {
        return error(E.Line,
                     "unknown key '" + E.Key +
                         "' in [[suppress]]; expected rules, parameters, "
                         "nodes or reason");
      }
    }
    if (S.Rules.empty() && S.Parameters.empty() && S.Nodes.empty())
      return error(T.Line, "[[suppress]] needs rules, parameters or nodes");
    Out.Suppressions.push_back(std::move(S));
    return llvm::Error::success();
  }
};

bool matchesAny(const std::vector<std::string> &Globs, llvm::StringRef Name) {
  for (const std::string &G : Globs)
    if (auto P = llvm::GlobPattern::create(G); P && P->match(Name))
      return true;
  return false;
}

} // namespace

llvm::Expected<CheckConfig> gradlint::parseConfig(llvm::StringRef Text,
                                                  llvm::StringRef Path) {
  auto Doc = parseToml(Text, Path);
  if (!Doc)
    return Doc.takeError();
  CheckConfig C;
  C.Path = Path.str();
  if (llvm::Error E = ConfigReader(*Doc, C).read())
    return E;
  return C;
}

llvm::Expected<CheckConfig> gradlint::loadConfig(llvm::StringRef Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/true);
  if (!Buf)
    return fileError(Path, "cannot read config: " + Buf.getError().message());
  if ((*Buf)->getBufferSize() > (1u << 20))
    return fileError(Path, "config is larger than 1 MiB");
  return parseConfig((*Buf)->getBuffer(), Path);
}

std::string gradlint::findConfig(llvm::StringRef ModelPath) {
  llvm::SmallString<256> Dir(ModelPath);
  llvm::sys::fs::make_absolute(Dir);
  llvm::sys::path::remove_filename(Dir);
  while (!Dir.empty()) {
    llvm::SmallString<256> Candidate(Dir);
    llvm::sys::path::append(Candidate, "gradlint.toml");
    if (llvm::sys::fs::is_regular_file(Candidate))
      return std::string(Candidate);
    llvm::StringRef Parent = llvm::sys::path::parent_path(Dir);
    if (Parent == Dir)
      break;
    Dir.resize(Parent.size()); // Parent points into Dir: not assignable to it

  }
  return "";
}

/// The rules one select/ignore entry names.
static std::vector<const Rule *> rulesNamedBy(llvm::StringRef Entry) {
  std::vector<const Rule *> Out;
  std::string Upper = Entry.upper();
  for (const Rule *R : allRules())
    if (Upper == "ALL" || R->Name == Entry ||
        (Upper.size() >= 2 && llvm::StringRef(R->Code).startswith(Upper)))
      Out.push_back(R);
  return Out;
}

llvm::Expected<std::vector<const Rule *>>
gradlint::selectRules(const std::vector<std::string> &Select,
                      const std::vector<std::string> &Ignore,
                      llvm::StringRef What) {
  std::set<const Rule *> On;
  auto Add = [&](const std::vector<std::string> &List,
                 bool Enable) -> llvm::Error {
    for (const std::string &Entry : List) {
      auto Named = rulesNamedBy(Entry);
      if (Named.empty())
        return makeError(
            What + " names no rule: '" + Entry +
            "' (use codes like GL103, prefixes like GL1, names, or ALL)");
      for (const Rule *R : Named)
        Enable ? (void)On.insert(R) : (void)On.erase(R);
    }
    return llvm::Error::success();
  };
  if (Select.empty())
    On.insert(allRules().begin(), allRules().end());
  else if (llvm::Error E = Add(Select, true))
    return E;
  if (llvm::Error E = Add(Ignore, false))
    return E;
  std::vector<const Rule *> Out;
  for (const Rule *R : allRules())
    if (On.count(R))
      Out.push_back(R);
  return Out;
}

std::vector<std::string> gradlint::splitCodeList(llvm::StringRef List) {
  llvm::SmallVector<llvm::StringRef, 8> Parts;
  List.split(Parts, ',', -1, /*KeepEmpty=*/false);
  std::vector<std::string> Out;
  for (llvm::StringRef P : Parts) {
    llvm::SmallVector<llvm::StringRef, 4> Words;
    P.split(Words, ' ', -1, false);
    for (llvm::StringRef W : Words)
      if (!W.trim().empty())
        Out.push_back(W.trim().str());
  }
  return Out;
}

bool gradlint::isSuppressed(const Suppression &S, const Finding &F) {
  if (!S.Rules.empty() &&
      llvm::none_of(S.Rules, [&](const Rule *R) { return R->Code == F.Code; }))
    return false;
  if (!S.Parameters.empty() &&
      (F.Parameter.empty() || !matchesAny(S.Parameters, F.Parameter)))
    return false;
  if (!S.Nodes.empty() && (F.Node.empty() || !matchesAny(S.Nodes, F.Node)))
    return false;
  return true;
}
