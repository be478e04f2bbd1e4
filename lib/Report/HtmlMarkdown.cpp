//===- HtmlMarkdown.cpp - rule documentation pages as HTML ----------------===//
//
// The subset of Markdown docs/rules/*.md use: headings, paragraphs, "- "
// lists with indented continuation lines, "|" tables, ``` code blocks, and
// inline `code` and **bold**. Links keep their text only: the page makes no
// requests and links nowhere. Everything else is escaped text.
//
//===----------------------------------------------------------------------===//
#include "HtmlSupport.h"

using namespace gradlint;
using namespace gradlint::html;

/// Escaped text with `code`, **bold** and [text](target) → text.
static void inlineText(llvm::raw_ostream &OS, llvm::StringRef S) {
  while (!S.empty()) {
    size_t Special = S.find_first_of("`*[");
    OS << esc(S.take_front(Special));
    if (Special == llvm::StringRef::npos)
      return;
    S = S.drop_front(Special);
    if (S.startswith("`")) {
      size_t End = S.find('`', 1);
      if (End != llvm::StringRef::npos) {
        OS << "<code>" << esc(S.slice(1, End)) << "</code>";
        S = S.drop_front(End + 1);
        continue;
      }
    } else if (S.startswith("**")) {
      size_t End = S.find("**", 2);
      if (End != llvm::StringRef::npos) {
        OS << "<strong>";
        inlineText(OS, S.slice(2, End));
        OS << "</strong>";
        S = S.drop_front(End + 2);
        continue;
      }
    } else if (S.startswith("[")) {
      size_t Close = S.find("](");
      size_t End = Close == llvm::StringRef::npos ? Close : S.find(')', Close);
      if (End != llvm::StringRef::npos && S.slice(1, Close).find('\n') == llvm::StringRef::npos) {
        inlineText(OS, S.slice(1, Close));
        S = S.drop_front(End + 1);
        continue;
      }
    }
    OS << esc(S.take_front(1));
    S = S.drop_front(1);
  }
}

static std::vector<llvm::StringRef> tableCells(llvm::StringRef Line) {
  Line = Line.trim();
  Line.consume_front("|");
  Line.consume_back("|");
  llvm::SmallVector<llvm::StringRef, 8> Parts;
  Line.split(Parts, '|');
  std::vector<llvm::StringRef> Out;
  for (llvm::StringRef P : Parts)
    Out.push_back(P.trim());
  return Out;
}

static bool isTableRule(llvm::StringRef Line) {
  return Line.trim().startswith("|") &&
         Line.find_first_not_of("|-: \t") == llvm::StringRef::npos;
}

static bool isListItem(llvm::StringRef Line) {
  return Line.startswith("- ") || Line.startswith("* ");
}

void html::writeInlineMarkdown(llvm::raw_ostream &OS, llvm::StringRef Text) {
  inlineText(OS, Text);
}

void html::writeMarkdown(llvm::raw_ostream &OS, llvm::StringRef Markdown) {
  llvm::SmallVector<llvm::StringRef, 64> Lines;
  Markdown.split(Lines, '\n');
  bool SkippedTitle = false;
  for (size_t I = 0; I < Lines.size();) {
    llvm::StringRef Line = Lines[I].rtrim();
    if (Line.empty()) {
      ++I;
      continue;
    }
    if (Line.startswith("```")) {
      OS << "<pre><code>";
      for (++I; I < Lines.size() && !Lines[I].rtrim().startswith("```"); ++I)
        OS << esc(Lines[I].rtrim()) << "\n";
      OS << "</code></pre>\n";
      ++I;
      continue;
    }
    if (Line.startswith("#")) {
      size_t Level = Line.find_first_not_of('#');
      llvm::StringRef Text = Line.drop_front(Level).trim();
      ++I;
      if (Level == 1 && !SkippedTitle) { // the group's heading already says it
        SkippedTitle = true;
        continue;
      }
      unsigned H = std::min<size_t>(6, Level + 3);
      OS << "<h" << H << ">";
      inlineText(OS, Text);
      OS << "</h" << H << ">\n";
      continue;
    }
    if (Line.startswith("|")) {
      OS << "<table class=\"md\">";
      bool Head = I + 1 < Lines.size() && isTableRule(Lines[I + 1]);
      for (; I < Lines.size() && Lines[I].trim().startswith("|"); ++I) {
        if (isTableRule(Lines[I]))
          continue;
        const char *Cell = Head ? "th" : "td";
        OS << "<tr>";
        for (llvm::StringRef C : tableCells(Lines[I])) {
          OS << "<" << Cell << ">";
          inlineText(OS, C);
          OS << "</" << Cell << ">";
        }
        OS << "</tr>";
        Head = false;
      }
      OS << "</table>\n";
      continue;
    }
    if (isListItem(Line)) {
      OS << "<ul>";
      while (I < Lines.size() && isListItem(Lines[I].rtrim())) {
        std::string Item = Lines[I].rtrim().drop_front(2).str();
        for (++I; I < Lines.size() && Lines[I].startswith("  ") &&
                  !Lines[I].trim().empty();
             ++I)
          Item += " " + Lines[I].trim().str();
        OS << "<li>";
        inlineText(OS, Item);
        OS << "</li>";
      }
      OS << "</ul>\n";
      continue;
    }
    std::string Para;
    for (; I < Lines.size(); ++I) {
      llvm::StringRef L = Lines[I].rtrim();
      if (L.empty() || L.startswith("#") || L.startswith("```") || L.startswith("|") ||
          isListItem(L))
        break;
      if (!Para.empty())
        Para += " ";
      Para += L.trim().str();
    }
    OS << "<p>";
    inlineText(OS, Para);
    OS << "</p>\n";
  }
}
