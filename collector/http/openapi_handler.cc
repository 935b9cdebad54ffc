#include "collector/http/openapi_handler.h"

#include <cstddef>

// Defined in the source that collector/http/embed_openapi.py generates into the build tree: each
// text as consecutive parts, NUL-terminated.
namespace vigil::collector::embedded {
extern const char* const kOpenApiYamlParts[];
extern const size_t kOpenApiYamlPartCount;
extern const char* const kOpenApiJsonParts[];
extern const size_t kOpenApiJsonPartCount;
}  // namespace vigil::collector::embedded

namespace vigil::collector {
namespace {

std::string join(const char* const* parts, size_t count) {
  std::string text;
  for (size_t i = 0; i < count; ++i) text += parts[i];
  return text;
}

}  // namespace

const std::string& openApiYaml() {
  static const std::string text =
      join(embedded::kOpenApiYamlParts, embedded::kOpenApiYamlPartCount);
  return text;
}

const std::string& openApiJson() {
  static const std::string text =
      join(embedded::kOpenApiJsonParts, embedded::kOpenApiJsonPartCount);
  return text;
}

}  // namespace vigil::collector
