#pragma once

// The two OS steps of replaceFileAtomically (atomic_file.h), one implementation per OS:
// durable_file_ops_posix.cc, durable_file_ops_windows.cc. Errors name the path and the OS's
// reason.

#include <filesystem>

#include "common/status.h"

namespace vigil::durable_file_ops {

// Forces the content of the existing file `path` to stable storage.
Status flushToStorage(const std::filesystem::path& path);

// Renames `from` over `to` (replacing it in one step) and forces the rename itself to stable
// storage.
Status renameDurably(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace vigil::durable_file_ops
