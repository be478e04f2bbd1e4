//===- HtmlEscape.cpp - escaping and number formatting for the HTML report ===//
//
// Model-supplied strings (node, value and initializer names, producer, doc
// string, file path) reach the page only through escape() or scriptJson().
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"
#include "llvm/Support/ConvertUTF.h"
#include <cstdio>

using namespace gradlint;

/// Length of the valid UTF-8 sequence at S[I], or 0 when it is not valid.
static size_t utf8Length(llvm::StringRef S, size_t I) {
  auto *Begin = reinterpret_cast<const llvm::UTF8 *>(S.data()) + I;
  unsigned Len = llvm::getNumBytesForUTF8(*Begin);
  if (I + Len > S.size())
    return 0;
  return llvm::isLegalUTF8Sequence(Begin, Begin + Len) ? Len : 0;
}

static const char Replacement[] = "\xEF\xBF\xBD"; // U+FFFD

std::string html::utf8(llvm::StringRef S) {
  std::string Out;
  Out.reserve(S.size());
  for (size_t I = 0; I < S.size();) {
    size_t Len = utf8Length(S, I);
    if (Len == 0) {
      Out += Replacement;
      ++I;
      continue;
    }
    Out.append(S.data() + I, Len);
    I += Len;
  }
  return Out;
}

std::string html::escape(llvm::StringRef S) {
  std::string Out;
  Out.reserve(S.size() + S.size() / 8);
  for (size_t I = 0; I < S.size();) {
    unsigned char C = S[I];
    if (C >= 0x80) {
      size_t Len = utf8Length(S, I);
      if (Len == 0) {
        Out += Replacement;
        ++I;
      } else {
        Out.append(S.data() + I, Len);
        I += Len;
      }
      continue;
    }
    ++I;
    switch (C) {
    case '&': Out += "&amp;"; break;
    case '<': Out += "&lt;"; break;
    case '>': Out += "&gt;"; break;
    case '"': Out += "&quot;"; break;
    case '\'': Out += "&#39;"; break;
    case '\t':
    case '\n': Out += static_cast<char>(C); break;
    default:
      if (C < 0x20 || C == 0x7f)
        Out += Replacement;
      else
        Out += static_cast<char>(C);
    }
  }
  return Out;
}

llvm::raw_ostream &html::operator<<(llvm::raw_ostream &OS, const Escaped &E) {
  return OS << escape(E.S);
}

std::string html::scriptJson(const llvm::json::Value &V) {
  std::string Text;
  llvm::raw_string_ostream(Text) << V;
  std::string Out;
  Out.reserve(Text.size());
  for (size_t I = 0; I < Text.size(); ++I) {
    char C = Text[I];
    if (C == '<')
      Out += "\\u003c";
    else if (C == '>')
      Out += "\\u003e";
    else if (C == '&')
      Out += "\\u0026";
    else if (C == '\xE2' && I + 2 < Text.size() && Text[I + 1] == '\x80' &&
             (Text[I + 2] == '\xA8' || Text[I + 2] == '\xA9')) {
      Out += Text[I + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      I += 2;
    } else
      Out += C;
  }
  return Out;
}

std::string html::num(double V) {
  if (std::isnan(V))
    return "\xE2\x80\x94"; // em dash
  if (std::isinf(V))
    return V > 0 ? "inf" : "-inf";
  if (V == 0)
    return "0";
  char Buf[32];
  double A = std::fabs(V);
  if (A >= 1e-3 && A < 1e4)
    snprintf(Buf, sizeof Buf, "%.3g", V);
  else
    snprintf(Buf, sizeof Buf, "%.2e", V);
  return Buf;
}

std::string html::key(double V) {
  if (std::isnan(V))
    return "NaN";
  if (std::isinf(V))
    return V > 0 ? "Infinity" : "-Infinity";
  char Buf[32];
  snprintf(Buf, sizeof Buf, "%.6e", V);
  return Buf;
}

std::string html::px(double V) {
  char Buf[32];
  snprintf(Buf, sizeof Buf, "%.1f", V);
  llvm::StringRef S(Buf);
  if (S.endswith(".0"))
    S = S.drop_back(2);
  return S == "-0" ? "0" : S.str();
}


std::string html::plural(uint64_t N, llvm::StringRef One) {
  return std::to_string(N) + " " + One.str() + (N == 1 ? "" : "s");
}
