#include "tests/integration/openapi_coverage.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "common/json.h"

namespace vigil::testing {
namespace {

const char* const kMethods[] = {"get",   "put",  "post",    "delete",
                                "patch", "head", "options", "trace"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;  // paths begin with '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool isParameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// How well `path` fits `path_template`: nullopt if not at all, else the number of literal
// segments (more is a better match).
std::optional<size_t> fit(const std::string& path_template, const std::vector<std::string>& path) {
  const std::vector<std::string> pattern = segments(path_template);
  if (pattern.size() != path.size()) return std::nullopt;
  size_t literals = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (isParameter(pattern[i])) {
      if (path[i].empty()) return std::nullopt;
    } else if (pattern[i] == path[i]) {
      ++literals;
    } else {
      return std::nullopt;
    }
  }
  return literals;
}

// True if response key `key` ("200", "4XX") covers a seen `status`.
bool covers(const std::string& key, int status) {
  if (key.size() == 3 && (key[1] == 'X' || key[1] == 'x') && (key[2] == 'X' || key[2] == 'x')) {
    return status / 100 == key[0] - '0';
  }
  return key == std::to_string(status);
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::optional<OpenApiSpec> OpenApiSpec::parse(const std::string& json, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<OpenApiSpec> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  json::JsonPtr root = json::parse(json);
  if (!cJSON_IsObject(root.get())) return fail("the description is not a JSON object");
  const cJSON* version = cJSON_GetObjectItemCaseSensitive(root.get(), "openapi");
  if (!cJSON_IsString(version) || !startsWith(version->valuestring, "3.")) {
    return fail("the description is not OpenAPI 3 (no \"openapi\": \"3.x\")");
  }
  const cJSON* paths = cJSON_GetObjectItemCaseSensitive(root.get(), "paths");
  if (!cJSON_IsObject(paths)) return fail("the description has no paths");

  OpenApiSpec spec;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, paths) {
    for (const char* method : kMethods) {
      const cJSON* op = cJSON_GetObjectItemCaseSensitive(item, method);
      if (!cJSON_IsObject(op)) continue;
      ApiOperation operation{upper(method), item->string};
      std::vector<std::string> keys;
      const cJSON* response = nullptr;
      cJSON_ArrayForEach(response, cJSON_GetObjectItemCaseSensitive(op, "responses")) {
        keys.emplace_back(response->string);
      }
      spec.operations_.push_back(operation);
      spec.responses_.emplace_back(std::move(operation), std::move(keys));
    }
  }
  std::sort(spec.operations_.begin(), spec.operations_.end());
  return spec;
}

std::vector<std::string> OpenApiSpec::responseKeys(const ApiOperation& operation) const {
  for (const auto& [op, keys] : responses_) {
    if (op == operation) return keys;
  }
  return {};
}

std::optional<std::string> OpenApiSpec::templateFor(const std::string& method,
                                                    const std::string& path) const {
  const std::vector<std::string> parts = segments(path.substr(0, path.find('?')));
  const std::string wanted = upper(method);
  std::optional<std::string> best;
  size_t best_literals = 0;
  for (const auto& [op_method, path_template] : operations_) {
    if (op_method != wanted) continue;
    std::optional<size_t> literals = fit(path_template, parts);
    if (literals && (!best || *literals > best_literals)) {
      best = path_template;
      best_literals = *literals;
    }
  }
  return best;
}

void OpenApiCoverage::record(const std::string& method, const std::string& path_template,
                             int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  outcomes_.emplace(upper(method), path_template, status);
}

bool OpenApiCoverage::recordRequest(const OpenApiSpec& spec, const std::string& method,
                                    const std::string& path, int status) {
  std::optional<std::string> path_template = spec.templateFor(method, path);
  if (!path_template) return false;
  record(method, *path_template, status);
  return true;
}

std::set<ApiOutcome> OpenApiCoverage::outcomes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outcomes_;
}

std::string CoverageGaps::describe() const {
  std::ostringstream out;
  out << unexercised.size() << " documented operation(s) never exercised";
  for (const auto& [method, path] : unexercised) out << "\n  " << method << ' ' << path;
  out << "\n" << undocumented.size() << " exercised operation(s) not documented";
  for (const auto& [method, path] : undocumented) out << "\n  " << method << ' ' << path;
  out << "\n" << unseen_statuses.size() << " documented response(s) never seen";
  for (const auto& [op, status] : unseen_statuses) {
    out << "\n  " << op.first << ' ' << op.second << " -> " << status;
  }
  return out.str();
}

CoverageGaps findCoverageGaps(const OpenApiSpec& spec, const OpenApiCoverage& coverage,
                              const std::string& path_prefix) {
  const std::set<ApiOutcome> outcomes = coverage.outcomes();
  std::set<ApiOperation> exercised;
  for (const auto& [method, path, status] : outcomes) exercised.emplace(method, path);

  CoverageGaps gaps;
  const std::set<ApiOperation> documented(spec.operations().begin(), spec.operations().end());
  for (const ApiOperation& op : spec.operations()) {
    if (!startsWith(op.second, path_prefix)) continue;
    if (exercised.count(op) == 0) gaps.unexercised.push_back(op);
    for (const std::string& key : spec.responseKeys(op)) {
      if (key == "default") continue;
      const bool seen = std::any_of(outcomes.begin(), outcomes.end(), [&](const ApiOutcome& o) {
        return std::get<0>(o) == op.first && std::get<1>(o) == op.second &&
               covers(key, std::get<2>(o));
      });
      if (!seen) gaps.unseen_statuses.emplace_back(op, key);
    }
  }
  for (const ApiOperation& op : exercised) {
    if (startsWith(op.second, path_prefix) && documented.count(op) == 0) {
      gaps.undocumented.push_back(op);
    }
  }
  return gaps;
}

std::optional<CoverageGaps> findCoverageGaps(const std::string& spec_json,
                                             const OpenApiCoverage& coverage,
                                             const std::string& path_prefix, std::string* error) {
  std::optional<OpenApiSpec> spec = OpenApiSpec::parse(spec_json, error);
  if (!spec) return std::nullopt;
  return findCoverageGaps(*spec, coverage, path_prefix);
}

}  // namespace vigil::testing
