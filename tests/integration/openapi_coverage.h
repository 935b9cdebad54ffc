#pragma once

// Coverage of the OpenAPI description by an integration test: the test records every
// (method, path template, status) it exercised against a running collector, then compares the
// record with the description the collector serves (GET /api/v1/openapi.json):
//
//   OpenApiCoverage coverage;
//   coverage.record("GET", "/api/v1/tenants/{tenant_id}", 200);
//   ...
//   auto spec = OpenApiSpec::parse(httpRequest(port, "GET", "/api/v1/openapi.json").body);
//   CoverageGaps gaps = findCoverageGaps(*spec, coverage, "/api/v1/");
//   BOOST_TEST(gaps.unexercised.empty(), gaps.describe());

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace vigil::testing {

using ApiOperation = std::pair<std::string, std::string>;      // (METHOD, path template)
using ApiOutcome = std::tuple<std::string, std::string, int>;  // (METHOD, template, status)

// The operations of an OpenAPI 3 description and their documented response statuses.
class OpenApiSpec {
 public:
  // nullopt (with `error` set, if given) unless `json` is an OpenAPI 3 document with paths.
  static std::optional<OpenApiSpec> parse(const std::string& json, std::string* error = nullptr);

  // Every operation under `paths`, methods upper-case, sorted.
  const std::vector<ApiOperation>& operations() const { return operations_; }
  // The response keys of `operation` ("200", "4XX", "default"); empty if not documented.
  std::vector<std::string> responseKeys(const ApiOperation& operation) const;

  // The template of the operation that serves `method` on the concrete `path` (a query string
  // is ignored): "/api/v1/tenants/12/sites" -> "/api/v1/tenants/{tenant_id}/sites". A literal
  // segment wins over a parameter. nullopt if no documented operation matches.
  std::optional<std::string> templateFor(const std::string& method, const std::string& path) const;

 private:
  std::vector<ApiOperation> operations_;
  std::vector<std::pair<ApiOperation, std::vector<std::string>>> responses_;
};

// What a test exercised. Safe to use from several threads.
class OpenApiCoverage {
 public:
  // `method` in any case; `path_template` exactly as in the description.
  void record(const std::string& method, const std::string& path_template, int status);
  // The same for a concrete path, resolved with spec.templateFor. False (nothing recorded) if
  // no documented operation matches.
  bool recordRequest(const OpenApiSpec& spec, const std::string& method, const std::string& path,
                     int status);

  std::set<ApiOutcome> outcomes() const;

 private:
  mutable std::mutex mutex_;
  std::set<ApiOutcome> outcomes_;
};

struct CoverageGaps {
  // Documented operations never exercised (any status counts as exercised).
  std::vector<ApiOperation> unexercised;
  // Documented responses never seen, for exercised and unexercised operations alike
  // (informational: some, such as 500 or 503, cannot be provoked on purpose). A range key
  // ("4XX") counts as seen when any status of the range was; "default" is left out.
  std::vector<std::pair<ApiOperation, std::string>> unseen_statuses;
  // Recorded operations the description does not have (a misspelt template, or an
  // undocumented route).
  std::vector<ApiOperation> undocumented;

  // Human-readable listing of all three, for a test failure message.
  std::string describe() const;
};

// Compares `coverage` with `spec`, restricted to operations whose template starts with
// `path_prefix` ("" for all).
CoverageGaps findCoverageGaps(const OpenApiSpec& spec, const OpenApiCoverage& coverage,
                              const std::string& path_prefix = "");
// The same from the description's JSON text; nullopt (with `error` set, if given) if it is not
// an OpenAPI 3 document.
std::optional<CoverageGaps> findCoverageGaps(const std::string& spec_json,
                                             const OpenApiCoverage& coverage,
                                             const std::string& path_prefix = "",
                                             std::string* error = nullptr);

}  // namespace vigil::testing
