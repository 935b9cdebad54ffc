#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/platform.h"
#include "common/status.h"

namespace vigil::agent {

// Creates the agent's state directory if needed and makes it private through `protection`
// (Unix: 0700, refusing shared sticky directories; Windows: SYSTEM and Administrators only).
Status prepareStateDir(const std::filesystem::path& dir, StateProtection& protection);

// Replaces `path` with `content` atomically and durably (replaceFileAtomically), the new file
// made private through `protection` before anything is written to it.
Status writePrivateFileAtomically(const std::filesystem::path& path, std::string_view content,
                                  StateProtection& protection);

// The content of `path`, nullopt if it does not exist; an error if it is unreadable or
// larger than `max_bytes`.
Result<std::optional<std::string>> readSmallFile(const std::filesystem::path& path,
                                                 size_t max_bytes);

}  // namespace vigil::agent
