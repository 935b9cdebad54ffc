#include "tools/fleetsim/admin_writes.h"

#include "common/json.h"
#include "tools/fleetsim/api_reading.h"

namespace vigil::fleetsim {
namespace {

// Far enough in the future that no window is ever open during a run.
constexpr char kWindowStart[] = "2099-01-01T00:00:00Z";
constexpr char kSiteName[] = "lab-admin-writes";

}  // namespace

AdminWriter::AdminWriter(const CollectorHttp& through, int64_t tenant_id,
                         std::chrono::milliseconds every)
    : through_(through), tenant_id_(tenant_id), every_(every) {}

AdminWriter::~AdminWriter() { stop(); }

Status AdminWriter::prepare() {
  HttpAnswer a = through_.post("/api/v1/tenants/" + std::to_string(tenant_id_) + "/sites",
                               std::string(R"({"name": ")") + kSiteName + R"("})");
  json::JsonPtr doc = json::parse(a.body);
  if (a.status != 201 || !doc) {
    return Status::unavailable("create the admin writes' site: " + std::to_string(a.status) + " " +
                               a.body);
  }
  site_id_ = jsonInt(doc.get(), "id");
  return Status::okStatus();
}

void AdminWriter::start() {
  running_ = true;
  thread_ = std::thread([this] {
    auto next = std::chrono::steady_clock::now();
    while (running_) {
      writeOnce();
      next += every_;
      std::this_thread::sleep_until(next);
    }
  });
}

void AdminWriter::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void AdminWriter::writeOnce() {
  Write w;
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = writes_.size();
  }
  w.window = n % 2 == 0;
  const std::string site = std::to_string(site_id_);
  if (w.window) {
    w.value = "fleetsim admin write " + std::to_string(n);
    HttpAnswer a = through_.post("/api/v1/maintenance-windows",
                                 R"({"site_id": )" + site + R"(, "starts_at": ")" + kWindowStart +
                                     R"(", "duration_s": 3600, "note": ")" + w.value + R"("})");
    json::JsonPtr doc = json::parse(a.body);
    w.acknowledged = a.status == 201 && doc && jsonInt(doc.get(), "id") > 0;
    if (w.acknowledged) w.window_id = jsonInt(doc.get(), "id");
  } else {
    w.value = std::string(kSiteName) + "-" + std::to_string(n);
    HttpAnswer a = through_.patch("/api/v1/sites/" + site, R"({"name": ")" + w.value + R"("})");
    w.acknowledged = a.status == 200;
  }
  std::lock_guard<std::mutex> lock(mu_);
  writes_.push_back(std::move(w));
}

std::vector<AdminWrite> AdminWriter::readBack(
    const std::vector<std::pair<std::string, const CollectorHttp*>>& collectors) const {
  std::vector<Write> writes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writes = writes_;
  }
  // The site's name on each collector once, for the renames.
  std::vector<std::string> names;
  for (const auto& [name, http] : collectors) {
    json::JsonPtr doc = json::parse(http->get("/api/v1/sites/" + std::to_string(site_id_)).body);
    names.push_back(doc ? jsonString(doc.get(), "name") : "");
  }
  std::vector<AdminWrite> out;
  for (size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    AdminWrite result;
    result.acknowledged = w.acknowledged;
    result.what = w.window
                      ? "maintenance window " + std::to_string(w.window_id) + " (" + w.value + ")"
                      : "site " + std::to_string(site_id_) + " renamed " + w.value;
    if (!w.acknowledged) {
      out.push_back(std::move(result));
      continue;
    }
    for (size_t c = 0; c < collectors.size(); ++c) {
      bool found = false;
      if (w.window) {
        HttpAnswer a =
            collectors[c].second->get("/api/v1/maintenance-windows/" + std::to_string(w.window_id));
        json::JsonPtr doc = json::parse(a.body);
        found = a.status == 200 && doc && jsonString(doc.get(), "note") == w.value;
      } else {
        for (size_t j = i; j < writes.size() && !found; ++j) {
          found = !writes[j].window && writes[j].value == names[c];
        }
      }
      if (!found) result.missing_on.push_back(collectors[c].first);
    }
    out.push_back(std::move(result));
  }
  return out;
}

}  // namespace vigil::fleetsim
