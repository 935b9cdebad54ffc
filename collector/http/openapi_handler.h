#pragma once

// The collector's OpenAPI description (docs/openapi.yaml), embedded at build time as the YAML
// source and its JSON conversion, for GET /api/v1/openapi.yaml (application/yaml) and
// GET /api/v1/openapi.json (application/json). Both paths need no authentication.
//
// Thread safety: the texts are immutable; safe to read from any thread.

#include <string>

namespace vigil::collector {

// docs/openapi.yaml as it was at build time, byte for byte.
const std::string& openApiYaml();
// The same description as JSON (converted from the YAML at build time).
const std::string& openApiJson();

}  // namespace vigil::collector
