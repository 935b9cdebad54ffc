#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::json {

struct CJsonDeleter {
  void operator()(cJSON* item) const { cJSON_Delete(item); }
};
// Owns a cJSON tree.
using JsonPtr = std::unique_ptr<cJSON, CJsonDeleter>;

// Parses exactly `text` (no NUL terminator needed); null on malformed JSON or trailing bytes.
JsonPtr parse(std::string_view text);

// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool isUtf8(std::string_view s);

// `s` with every byte that does not start or continue a well-formed UTF-8 sequence replaced
// by U+FFFD: text stored before it was checked still prints as valid JSON.
std::string toValidUtf8(std::string_view s);

// Adds a string member, repaired with toValidUtf8(): for text from the store, which may predate
// the checks on what comes in, so that every answer and payload is valid JSON.
void addText(cJSON* object, const char* name, std::string_view value);

// What makes a JSON text unfit to parse with cJSON, whose strings end at the first NUL: bytes
// that are not UTF-8, a NUL (raw or escaped as \u0000) or another raw control character
// inside a string. Says what and at which byte offset; nullopt if there is none. Call it
// before parse() on text from outside.
std::optional<std::string> textFault(std::string_view text);

// Compact serialisation; empty string only if cJSON runs out of memory.
std::string print(const cJSON* item);

// Largest integer a JSON number (an IEEE double) carries exactly: 2^53.
constexpr int64_t kMaxExactInteger = 9007199254740992LL;

// Adds an integer member written as exact decimal text. Use it instead of
// cJSON_AddNumberToObject, whose printer rounds integers above 10^15.
void addInteger(cJSON* object, const char* name, int64_t value);

// True if `item` is a number holding an integer in [min, max].
bool isIntegerInRange(const cJSON* item, int64_t min, int64_t max);

// The string member `name` of `object` (null or not an object: none); empty if it is absent
// or not a string.
std::string textMember(const cJSON* object, const char* name);

// A JSON array of strings, as text: {"a","b"} -> ["a","b"].
std::string printStringArray(const std::vector<std::string>& values);
// The strings of a JSON array text; anything else in it (or a text that is not an array) is
// skipped.
std::vector<std::string> parseStringArray(const std::string& text);

}  // namespace vigil::json
