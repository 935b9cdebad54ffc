#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace vigil::collector {

// Replaces `path` with `content` atomically: writes `path`.tmp with mode `perms` (set before
// any content is written), then renames it over `path`. Readers see the old file or the whole
// new one, never a part.
Status writeFileAtomically(const std::filesystem::path& path, const std::string& content,
                           std::filesystem::perms perms);

}  // namespace vigil::collector
