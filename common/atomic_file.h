#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

#include "common/status.h"

namespace vigil {

// Done to the new file while it is still empty, before any content is written to it (restrict
// who may read it), so the content is never readable by others whatever the umask or the
// inherited ACL. Called with the temporary file's path.
using PrepareNewFile = std::function<Status(const std::filesystem::path& new_file)>;

// A PrepareNewFile that sets the file's mode to `perms` (replacing it).
PrepareNewFile withPermissions(std::filesystem::perms perms);

// Replaces `path` with `content` atomically and durably: creates `path`.tmp, runs `prepare`
// on it while empty, writes the content, flushes it to stable storage, renames it over `path`
// and makes the rename durable (POSIX: fsync of the directory; Windows: a write-through
// move). A reader, also after a power cut, sees the old content or the whole new one. On any
// failure `path` keeps its old content and no `path`.tmp is left behind.
// Thread safety: two writers of the same `path` at once must be serialized by the caller.
Status replaceFileAtomically(const std::filesystem::path& path, std::string_view content,
                             const PrepareNewFile& prepare);

// Creates directory `path` (and its parents) if missing and restricts it to its owner
// (POSIX mode 0700, replacing what it had): a service's private state directory.
Status ensurePrivateDirectory(const std::filesystem::path& path);

}  // namespace vigil
