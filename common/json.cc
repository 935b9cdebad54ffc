#include "common/json.h"

#include <cmath>

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

}  // namespace vigil::json
