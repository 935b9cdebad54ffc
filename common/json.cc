#include "common/json.h"

#include <cmath>
#include <string>

namespace vigil::json {

JsonPtr parse(std::string_view text) {
  const char* end = nullptr;
  JsonPtr root(cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false));
  if (!root) return nullptr;
  // Only whitespace may follow the value.
  const char* stop = text.data() + text.size();
  for (const char* p = end; p != nullptr && p < stop; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') return nullptr;
  }
  return root;
}

namespace {

// The length of the well-formed UTF-8 sequence at s[i], 0 if there is none.
size_t utf8SequenceAt(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  size_t extra = 0;
  uint32_t min = 0;
  uint32_t cp = 0;
  if ((lead & 0xE0) == 0xC0) {
    extra = 1;
    min = 0x80;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2;
    min = 0x800;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3;
    min = 0x10000;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (i + extra >= s.size()) return 0;
  for (size_t k = 1; k <= extra; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (next & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return extra + 1;
}

}  // namespace

bool isUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8SequenceAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string toValidUtf8(std::string_view s) {
  if (isUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8SequenceAt(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void addText(cJSON* object, const char* name, std::string_view value) {
  cJSON_AddStringToObject(object, name, toValidUtf8(value).c_str());
}

std::optional<std::string> textFault(std::string_view text) {
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    auto at = [i] { return " at byte " + std::to_string(i); };
    const size_t n = utf8SequenceAt(text, i);
    if (n == 0) return "is not valid UTF-8" + at();
    if (c == 0) return "contains a NUL character" + at();
    if (in_string && c < 0x20) return "has a raw control character in a string" + at();
    if (c == '"') {
      in_string = !in_string;
    } else if (in_string && c == '\\' && i + 1 < text.size()) {
      if (text.compare(i + 1, 5, "u0000") == 0) return "contains a NUL character (\\u0000)" + at();
      i += 2;  // the escaped character: an escaped backslash or quote is text
      continue;
    }
    i += n;
  }
  return std::nullopt;
}

std::string print(const cJSON* item) {
  char* raw = cJSON_PrintUnformatted(item);
  if (raw == nullptr) return {};
  std::string out(raw);
  cJSON_free(raw);
  return out;
}

void addInteger(cJSON* object, const char* name, int64_t value) {
  cJSON_AddRawToObject(object, name, std::to_string(value).c_str());
}

bool isIntegerInRange(const cJSON* item, int64_t min, int64_t max) {
  if (item == nullptr || !cJSON_IsNumber(item)) return false;
  double d = item->valuedouble;
  if (!std::isfinite(d) || std::floor(d) != d) return false;
  if (d < -static_cast<double>(kMaxExactInteger) || d > static_cast<double>(kMaxExactInteger)) {
    return false;
  }
  auto v = static_cast<int64_t>(d);
  return v >= min && v <= max;
}

std::string printStringArray(const std::vector<std::string>& values) {
  JsonPtr arr(cJSON_CreateArray());
  for (const std::string& v : values)
    cJSON_AddItemToArray(arr.get(), cJSON_CreateString(v.c_str()));
  return print(arr.get());
}

std::vector<std::string> parseStringArray(const std::string& text) {
  std::vector<std::string> out;
  JsonPtr arr = parse(text);
  if (!arr || !cJSON_IsArray(arr.get())) return out;
  for (const cJSON* item = arr->child; item != nullptr; item = item->next) {
    if (cJSON_IsString(item) && item->valuestring != nullptr) out.emplace_back(item->valuestring);
  }
  return out;
}

std::string textMember(const cJSON* object, const char* name) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, name);
  return cJSON_IsString(item) ? std::string(item->valuestring) : std::string();
}

}  // namespace vigil::json
