//===- Toml.h - the TOML subset gradlint.toml is written in -----*- C++ -*-===//
//
// A small, strict parser for the part of TOML that configuration needs:
// comments, [tables] and [[arrays of tables]] with dotted (bare or quoted)
// names, and key = value where value is a string ("basic" or 'literal'),
// an integer, a float, a boolean or an array of strings. Anything else is an
// error that names file:line. Dotted keys, inline tables, dates and
// multi-line strings are not supported and say so.
//
//===----------------------------------------------------------------------===//
#ifndef GRADLINT_RULES_TOML_H
#define GRADLINT_RULES_TOML_H

#include "llvm/Support/Error.h"
#include <string>
#include <vector>

namespace gradlint {

struct TomlValue {
  enum class Kind { String, Integer, Float, Bool, StringArray };
  Kind K = Kind::String;
  std::string Str;
  int64_t Int = 0;
  double Float = 0;
  bool Bool = false;
  std::vector<std::string> Strings;

  llvm::StringRef kindName() const; ///< "string", "integer", ...
  bool isNumber() const { return K == Kind::Integer || K == Kind::Float; }
  double number() const { return K == Kind::Integer ? double(Int) : Float; }
};

struct TomlEntry {
  std::string Key;
  TomlValue Value;
  unsigned Line = 0;
};

struct TomlTable {
  std::vector<std::string> Path;  ///< header parts; empty for the root table
  bool ArrayElement = false;      ///< declared with [[...]]
  unsigned Line = 0;              ///< of the header (0 for the root)
  std::vector<TomlEntry> Entries; ///< in file order

  std::string name() const; ///< "rules.GL101"
};

struct TomlDocument {
  std::string Path; ///< for messages
  /// The root table first, then each table in file order.
  std::vector<TomlTable> Tables;
};

/// Parses Text; errors read "<Path>:<line>: <what>".
llvm::Expected<TomlDocument> parseToml(llvm::StringRef Text,
                                       llvm::StringRef Path);

} // namespace gradlint

#endif
