//===- Toml.cpp - a strict parser for a TOML subset -----------------------===//
#include "gradlint/Rules/Toml.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/ConvertUTF.h"
#include <map>
#include <set>

using namespace gradlint;

llvm::StringRef TomlValue::kindName() const {
  switch (K) {
  case Kind::String: return "string";
  case Kind::Integer: return "integer";
  case Kind::Float: return "float";
  case Kind::Bool: return "boolean";
  case Kind::StringArray: return "array of strings";
  }
  return "value";
}

std::string TomlTable::name() const { return llvm::join(Path, "."); }

namespace {

bool isBareKeyChar(char C) { return llvm::isAlnum(C) || C == '_' || C == '-'; }

class Parser {
public:
  Parser(llvm::StringRef Text, llvm::StringRef Path) : Text(Text), Path(Path) {}

  llvm::Expected<TomlDocument> parse() {
    TomlDocument Doc;
    Doc.Path = Path.str();
    Doc.Tables.emplace_back();
    std::map<std::string, unsigned> TableLines; // plain [tables]
    std::set<std::string> ArrayTables;          // [[tables]]
    while (true) {
      skipBlank();
      if (atEnd())
        break;
      if (peek() == '[') {
        TomlTable T;
        T.Line = Line;
        if (llvm::Error E = header(T))
          return E;
        std::string Name = T.name();
        if (T.ArrayElement) {
          if (TableLines.count(Name))
            return error(T.Line, "[[" + Name + "]] conflicts with [" + Name +
                                     "] at line " +
                                     std::to_string(TableLines[Name]));
          ArrayTables.insert(Name);
        } else {
          if (ArrayTables.count(Name))
            return error(T.Line,
                         "[" + Name + "] conflicts with [[" + Name + "]]");
          auto [It, New] = TableLines.insert({Name, T.Line});
          if (!New)
            return error(T.Line, "table [" + Name +
                                     "] defined twice (first at line " +
                                     std::to_string(It->second) + ")");
        }
        Doc.Tables.push_back(std::move(T));
        continue;
      }
      TomlEntry E;
      E.Line = Line;
      if (llvm::Error Err = entry(E))
        return Err;
      TomlTable &T = Doc.Tables.back();
      for (const TomlEntry &Prev : T.Entries)
        if (Prev.Key == E.Key)
          return error(E.Line, "duplicate key '" + E.Key + "' (first at line " +
                                   std::to_string(Prev.Line) + ")");
      T.Entries.push_back(std::move(E));
    }
    return Doc;
  }

private:
  llvm::StringRef Text;
  llvm::StringRef Path;
  size_t Pos = 0;
  unsigned Line = 1;

  bool atEnd() const { return Pos >= Text.size(); }
  char peek(size_t Ahead = 0) const {
    return Pos + Ahead < Text.size() ? Text[Pos + Ahead] : '\0';
  }
  void advance() {
    if (Text[Pos] == '\n')
      ++Line;
    ++Pos;
  }

  llvm::Error error(unsigned At, const llvm::Twine &What) const {
    return makeError(Path + ":" + llvm::Twine(At) + ": " + What);
  }
  llvm::Error error(const llvm::Twine &What) const { return error(Line, What); }

  void skipSpaces() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t'))
      advance();
  }
  void skipComment() {
    if (peek() == '#')
      while (!atEnd() && peek() != '\n')
        advance();
  }
  /// Spaces, comments and newlines.
  void skipBlank() {
    while (!atEnd()) {
      skipSpaces();
      skipComment();
      if (peek() == '\r' && peek(1) == '\n')
        advance();
      if (peek() != '\n')
        return;
      advance();
    }
  }
  /// After a value or header: only spaces and a comment until the newline.
  llvm::Error endOfLine() {
    skipSpaces();
    skipComment();
    if (peek() == '\r' && peek(1) == '\n')
      advance();
    if (atEnd() || peek() == '\n')
      return llvm::Error::success();
    return error("unexpected '" + llvm::Twine(peek()) + "' after the value");
  }

  llvm::Error key(std::string &Out) {
    if (peek() == '"' || peek() == '\'') {
      if (llvm::Error E = string(Out))
        return E;
      return llvm::Error::success();
    }
    size_t Begin = Pos;
    while (!atEnd() && isBareKeyChar(peek()))
      advance();
    if (Pos == Begin)
      return atEnd() || peek() == '\n'
                 ? error("expected a key")
                 : error("expected a key, found '" + llvm::Twine(peek()) + "'");
    Out = Text.slice(Begin, Pos).str();
    return llvm::Error::success();
  }

  llvm::Error header(TomlTable &T) {
    advance(); // '['
    if (peek() == '[') {
      advance();
      T.ArrayElement = true;
    }
    while (true) {
      skipSpaces();
      std::string Part;
      if (llvm::Error E = key(Part))
        return E;
      T.Path.push_back(std::move(Part));
      skipSpaces();
      if (peek() == '.') {
        advance();
        continue;
      }
      break;
    }
    if (peek() != ']')
      return error("expected ']' to close the table header");
    advance();
    if (T.ArrayElement) {
      if (peek() != ']')
        return error("expected ']]' to close the array-of-tables header");
      advance();
    }
    return endOfLine();
  }

  llvm::Error entry(TomlEntry &E) {
    if (llvm::Error Err = key(E.Key))
      return Err;
    skipSpaces();
    if (peek() == '.')
      return error("dotted keys are not supported; put '" + E.Key +
                   "' in a [table] instead");
    if (peek() != '=')
      return error("expected '=' after key '" + E.Key + "'");
    advance();
    skipSpaces();
    if (llvm::Error Err = value(E.Value))
      return Err;
    return endOfLine();
  }

  llvm::Error value(TomlValue &V) {
    char C = peek();
    if (C == '"' || C == '\'') {
      V.K = TomlValue::Kind::String;
      return string(V.Str);
    }
    if (C == '[')
      return array(V);
    if (C == '{')
      return error("inline tables are not supported; use a [table]");
    if (Text.substr(Pos).startswith("true") && !isBareKeyChar(peek(4))) {
      V.K = TomlValue::Kind::Bool;
      V.Bool = true;
      Pos += 4;
      return llvm::Error::success();
    }
    if (Text.substr(Pos).startswith("false") && !isBareKeyChar(peek(5))) {
      V.K = TomlValue::Kind::Bool;
      V.Bool = false;
      Pos += 5;
      return llvm::Error::success();
    }
    return number(V);
  }

  llvm::Error number(TomlValue &V) {
    size_t Begin = Pos;
    while (!atEnd() && (isBareKeyChar(peek()) || peek() == '.' ||
                        peek() == '+' || peek() == ':'))
      advance();
    llvm::StringRef Tok = Text.slice(Begin, Pos);
    if (Tok.empty())
      return error(atEnd() || peek() == '\n' ? llvm::Twine("expected a value")
                                             : "expected a value, found '" +
                                                   llvm::Twine(peek()) + "'");
    llvm::StringRef Body = Tok;
    bool Negative = false;
    if (Body.consume_front("-"))
      Negative = true;
    else
      Body.consume_front("+");
    if (Body == "inf" || Body == "nan")
      return error("'" + Tok + "': inf and nan are not supported");
    if (Body.startswith("0x") || Body.startswith("0o") || Body.startswith("0b"))
      return error("'" + Tok + "': only decimal numbers are supported");
    if (Body.contains(':') || (Body.size() > 4 && Body[4] == '-'))
      return error("'" + Tok + "': dates and times are not supported");
    // Underscores must sit between digits.
    std::string Clean;
    for (size_t I = 0; I != Body.size(); ++I) {
      if (Body[I] == '_') {
        if (I == 0 || I + 1 == Body.size() || !llvm::isDigit(Body[I - 1]) ||
            !llvm::isDigit(Body[I + 1]))
          return error("'" + Tok + "' is not a number");
        continue;
      }
      Clean += Body[I];
    }
    if (Clean.empty() || !llvm::isDigit(Clean[0]))
      return error("'" + Tok + "' is not a value (strings need quotes)");
    bool IsFloat = Clean.find_first_of(".eE") != std::string::npos;
    if (!IsFloat) {
      if (Clean.size() > 1 && Clean[0] == '0')
        return error("'" + Tok + "': leading zeros are not allowed");
      uint64_t U;
      if (llvm::StringRef(Clean).getAsInteger(10, U) ||
          U > uint64_t(INT64_MAX) + (Negative ? 1 : 0))
        return error("'" + Tok + "' is not an integer in range");
      V.K = TomlValue::Kind::Integer;
      V.Int = Negative ? int64_t(0 - U) : int64_t(U);
      return llvm::Error::success();
    }
    // TOML floats: an integer part, then a fraction and/or an exponent, with
    // digits on both sides of the point.
    size_t Dot = Clean.find('.');
    if (Dot != std::string::npos &&
        (Dot + 1 >= Clean.size() || !llvm::isDigit(Clean[Dot + 1])))
      return error("'" + Tok + "': a decimal point needs digits after it");
    double D;
    if (llvm::StringRef(Clean).getAsDouble(D, /*AllowInexact=*/true))
      return error("'" + Tok + "' is not a number");
    V.K = TomlValue::Kind::Float;
    V.Float = Negative ? -D : D;
    return llvm::Error::success();
  }

  llvm::Error array(TomlValue &V) {
    unsigned Start = Line;
    advance(); // '['
    V.K = TomlValue::Kind::StringArray;
    while (true) {
      skipBlank();
      if (atEnd())
        return error(Start, "array is not closed");
      if (peek() == ']') {
        advance();
        return llvm::Error::success();
      }
      if (peek() != '"' && peek() != '\'')
        return error("arrays may hold only strings here");
      std::string S;
      if (llvm::Error E = string(S))
        return E;
      V.Strings.push_back(std::move(S));
      skipBlank();
      if (atEnd())
        return error(Start, "array is not closed");
      if (peek() == ',') {
        advance();
        continue;
      }
      if (peek() != ']')
        return error("expected ',' or ']' in the array");
    }
  }

  llvm::Error string(std::string &Out) {
    char Quote = peek();
    if (peek(1) == Quote && peek(2) == Quote)
      return error("multi-line strings are not supported");
    advance();
    Out.clear();
    while (true) {
      if (atEnd() || peek() == '\n')
        return error("string is not closed on this line");
      char C = peek();
      advance();
      if (C == Quote)
        return llvm::Error::success();
      if (static_cast<unsigned char>(C) < 0x20 && C != '\t')
        return error("control character in a string");
      if (C != '\\' || Quote == '\'') {
        Out += C;
        continue;
      }
      if (atEnd())
        return error("string is not closed on this line");
      char Esc = peek();
      advance();
      switch (Esc) {
      case '"': Out += '"'; break;
      case '\\': Out += '\\'; break;
      case 'b': Out += '\b'; break;
      case 't': Out += '\t'; break;
      case 'n': Out += '\n'; break;
      case 'f': Out += '\f'; break;
      case 'r': Out += '\r'; break;
      case 'u':
      case 'U': {
        unsigned Digits = Esc == 'u' ? 4 : 8;
        llvm::StringRef Hex = Text.substr(Pos, Digits);
        unsigned CodePoint;
        if (Hex.size() != Digits || Hex.getAsInteger(16, CodePoint) ||
            CodePoint > 0x10FFFF ||
            (CodePoint >= 0xD800 && CodePoint <= 0xDFFF))
          return error("bad unicode escape in a string");
        Pos += Digits;
        char Buf[4];
        char *P = Buf;
        llvm::ConvertCodePointToUTF8(CodePoint, P);
        Out.append(Buf, P);
        break;
      }
      default:
        return error("unknown escape '\\" + llvm::Twine(Esc) + "' in a string");
      }
    }
  }
};

} // namespace

llvm::Expected<TomlDocument> gradlint::parseToml(llvm::StringRef Text,
                                                 llvm::StringRef Path) {
  return Parser(Text, Path).parse();
}
