#include "agent/core/outage_diary.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "agent/core/state_files.h"
#include "common/json.h"

namespace vigil::agent {
namespace {

constexpr size_t kMaxDiaryFileBytes = size_t{64} * 1024;
constexpr int kFormatVersion = 1;

cJSON* entryJson(const protocol::OutageEntry& e) {
  cJSON* o = cJSON_CreateObject();
  json::addInteger(o, "from_ms", e.from_ms);
  json::addInteger(o, "to_ms", e.to_ms);
  cJSON_AddStringToObject(o, "cause", e.cause.c_str());
  return o;
}

std::optional<protocol::OutageEntry> entryFromJson(const cJSON* o) {
  if (!cJSON_IsObject(o)) return std::nullopt;
  const cJSON* from = cJSON_GetObjectItemCaseSensitive(o, "from_ms");
  const cJSON* to = cJSON_GetObjectItemCaseSensitive(o, "to_ms");
  const cJSON* cause = cJSON_GetObjectItemCaseSensitive(o, "cause");
  if (!json::isIntegerInRange(from, 0, json::kMaxExactInteger) ||
      !json::isIntegerInRange(to, 0, json::kMaxExactInteger) || !cJSON_IsString(cause) ||
      cause->valuestring == nullptr || !protocol::isKnownOutageCause(cause->valuestring)) {
    return std::nullopt;
  }
  protocol::OutageEntry e;
  e.from_ms = static_cast<int64_t>(from->valuedouble);
  e.to_ms = static_cast<int64_t>(to->valuedouble);
  e.cause = cause->valuestring;
  if (e.to_ms < e.from_ms) return std::nullopt;
  return e;
}

}  // namespace

OutageDiary::OutageDiary(std::filesystem::path state_dir, StateProtection& protection,
                         const Clock& clock, OutageDiaryOptions options)
    : state_dir_(std::move(state_dir)),
      path_(state_dir_ / "outage-diary.json"),
      protection_(protection),
      clock_(clock),
      options_(options) {}

Status OutageDiary::load() {
  closed_.clear();
  open_.reset();
  Result<std::optional<std::string>> content = readSmallFile(path_, kMaxDiaryFileBytes);
  auto setAside = [this](const std::string& why) {
    std::error_code ec;
    std::filesystem::path aside = path_;
    aside += ".corrupt";
    std::filesystem::rename(path_, aside, ec);
    return Status::failedPrecondition("outage diary " + path_.string() + " is unreadable (" + why +
                                      "); moved to " + aside.string() +
                                      ", starting an empty diary");
  };
  if (!content.ok()) return setAside(content.error().message());
  if (!content.value()) return Status::okStatus();
  json::JsonPtr root = json::parse(**content);
  if (!root || !cJSON_IsObject(root.get()) ||
      !json::isIntegerInRange(cJSON_GetObjectItemCaseSensitive(root.get(), "v"), kFormatVersion,
                              kFormatVersion)) {
    return setAside("not a version 1 diary");
  }
  const cJSON* entries = cJSON_GetObjectItemCaseSensitive(root.get(), "entries");
  if (!cJSON_IsArray(entries)) return setAside("no entries");
  for (const cJSON* e = entries->child; e != nullptr; e = e->next) {
    auto entry = entryFromJson(e);
    if (!entry) return setAside("a bad entry");
    pushClosed(std::move(*entry));
  }
  // An outage left open by the previous run ended at its last recorded failure.
  const cJSON* open = cJSON_GetObjectItemCaseSensitive(root.get(), "open");
  if (open != nullptr && !cJSON_IsNull(open)) {
    auto entry = entryFromJson(open);
    if (!entry) return setAside("a bad open entry");
    pushClosed(std::move(*entry));
  }
  return Status::okStatus();
}

void OutageDiary::pushClosed(protocol::OutageEntry entry) {
  closed_.push_back(std::move(entry));
  // Full: merge the two oldest, so the diary still covers every outage, more coarsely.
  while (closed_.size() + (open_ ? 1 : 0) > std::max<size_t>(options_.max_entries, 2)) {
    closed_[1].from_ms = std::min(closed_[0].from_ms, closed_[1].from_ms);
    closed_[1].cause = closed_[0].cause;
    closed_.erase(closed_.begin());
  }
}

Status OutageDiary::recordFailure(int64_t at_ms, const std::string& cause) {
  const MonoTime now = clock_.monotonicNow();
  if (!open_) {
    protocol::OutageEntry e;
    e.from_ms = at_ms;
    e.to_ms = at_ms;
    e.cause = protocol::isKnownOutageCause(cause) ? cause : protocol::causes::kOther;
    // Make room before opening, so closed + open stays within max_entries.
    open_ = std::move(e);
    if (!closed_.empty()) {
      protocol::OutageEntry last = closed_.back();
      closed_.pop_back();
      pushClosed(std::move(last));
    }
    return persist();
  }
  open_->to_ms = std::max(open_->to_ms, at_ms);
  if (!last_persist_ || now - *last_persist_ >= options_.persist_every) return persist();
  return Status::okStatus();
}

std::vector<protocol::OutageEntry> OutageDiary::pending(int64_t now_ms) const {
  std::vector<protocol::OutageEntry> out = closed_;
  if (open_) {
    protocol::OutageEntry e = *open_;
    e.to_ms = std::max(e.to_ms, now_ms);
    out.push_back(std::move(e));
  }
  if (out.size() > options_.max_entries) {
    out.erase(out.begin(),
              out.begin() + static_cast<std::ptrdiff_t>(out.size() - options_.max_entries));
  }
  return out;
}

Status OutageDiary::delivered() {
  if (empty()) return Status::okStatus();
  closed_.clear();
  open_.reset();
  return persist();
}

Status OutageDiary::persist() {
  last_persist_ = clock_.monotonicNow();
  if (Status st = prepareStateDir(state_dir_, protection_); !st.ok()) return st;
  json::JsonPtr root(cJSON_CreateObject());
  if (!root) return Status::internal("out of memory");
  json::addInteger(root.get(), "v", kFormatVersion);
  cJSON* entries = cJSON_AddArrayToObject(root.get(), "entries");
  for (const protocol::OutageEntry& e : closed_) cJSON_AddItemToArray(entries, entryJson(e));
  if (open_) {
    cJSON_AddItemToObject(root.get(), "open", entryJson(*open_));
  } else {
    cJSON_AddNullToObject(root.get(), "open");
  }
  std::string text = json::print(root.get());
  if (text.empty()) return Status::internal("out of memory");
  text += '\n';
  return writePrivateFileAtomically(path_, text, protection_);
}

}  // namespace vigil::agent
