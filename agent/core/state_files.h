#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil::agent {

// Creates the agent's state directory if needed and makes it private (mode 0700).
// Refuses a directory with the sticky bit (a shared directory such as /tmp): the state
// directory must belong to the agent alone.
Status prepareStateDir(const std::filesystem::path& dir);

// Replaces `path` with `content` atomically: writes `path`.tmp with mode 0600, then renames
// it over `path`, so a reader sees the old or the new content, never a mix.
// Known limit: without an OS seam there is no fsync, so a power cut right after the rename can
// leave an empty file on some file systems; readers treat that as corrupt.
Status writePrivateFileAtomically(const std::filesystem::path& path, std::string_view content);

// The content of `path`, nullopt if it does not exist; an error if it is unreadable or
// larger than `max_bytes`.
Result<std::optional<std::string>> readSmallFile(const std::filesystem::path& path,
                                                 size_t max_bytes);

}  // namespace vigil::agent
