// StateProtection for Windows: a protected DACL granting full control to SYSTEM and
// BUILTIN\Administrators and to nobody else, applied with SetNamedSecurityInfoW.
#include <windows.h>
// (aclapi.h and sddl.h need windows.h first.)
#include <aclapi.h>
#include <sddl.h>

#include <filesystem>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "agent/platform/windows/state_protection_windows.h"
#include "agent/platform/windows/wide_strings.h"
#include "agent/platform/windows/win32_handle.h"
#include "agent/platform/windows/win32_status.h"
#include "agent/platform/windows/windows_platform.h"

namespace vigil::agent::windows {
namespace {

// A self-relative security descriptor built from SDDL, and its DACL (which points into it).
struct SecurityDescriptor {
  UniqueLocalMemory memory;
  PACL dacl = nullptr;

  PSECURITY_DESCRIPTOR get() const { return memory.get(); }
};

Result<SecurityDescriptor> securityDescriptorFromSddl(const wchar_t* sddl) {
  PSECURITY_DESCRIPTOR raw = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &raw, nullptr)) {
    return lastErrorStatus("ConvertStringSecurityDescriptorToSecurityDescriptorW");
  }
  SecurityDescriptor sd;
  sd.memory.reset(raw);
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  if (!GetSecurityDescriptorDacl(raw, &present, &sd.dacl, &defaulted)) {
    return lastErrorStatus("GetSecurityDescriptorDacl");
  }
  if (!present || sd.dacl == nullptr) return Status::internal("SDDL without a DACL");
  return sd;
}

Status applyDacl(const std::wstring& path, const std::string& display, const wchar_t* sddl) {
  auto sd = securityDescriptorFromSddl(sddl);
  if (!sd.ok()) return sd.error();
  // SetNamedSecurityInfoW takes a non-const name it does not modify.
  std::wstring name = path;
  const DWORD rc = SetNamedSecurityInfoW(
      name.data(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
      nullptr, nullptr, sd->dacl, nullptr);
  if (rc != ERROR_SUCCESS) return win32Status("cannot restrict access to " + display, rc);
  return Status::okStatus();
}

// The SID of the account this process runs as.
Result<std::vector<BYTE>> processUserSid() {
  HANDLE raw = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &raw)) {
    return lastErrorStatus("OpenProcessToken");
  }
  UniqueHandle token(raw);
  DWORD size = 0;
  GetTokenInformation(token.get(), TokenUser, nullptr, 0, &size);
  std::vector<BYTE> buffer(size);
  if (size == 0 || !GetTokenInformation(token.get(), TokenUser, buffer.data(), size, &size)) {
    return lastErrorStatus("GetTokenInformation(TokenUser)");
  }
  const SID* sid = static_cast<const SID*>(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid);
  const BYTE* first = reinterpret_cast<const BYTE*>(sid);
  return std::vector<BYTE>(first, first + GetLengthSid(const_cast<SID*>(sid)));
}

// A directory someone else owns could have its DACL changed back by that owner (an owner may
// always rewrite the DACL), so only LocalSystem, Administrators or the agent's own account
// may own the state directory.
Status checkOwner(const std::wstring& path, const std::string& display) {
  PSID owner = nullptr;
  PSECURITY_DESCRIPTOR raw = nullptr;
  const DWORD rc = GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION,
                                         &owner, nullptr, nullptr, nullptr, &raw);
  if (rc != ERROR_SUCCESS) return win32Status("cannot read the owner of " + display, rc);
  UniqueLocalMemory sd(raw);
  if (owner == nullptr) return Status::failedPrecondition(display + " has no owner");
  if (IsWellKnownSid(owner, WinLocalSystemSid) ||
      IsWellKnownSid(owner, WinBuiltinAdministratorsSid)) {
    return Status::okStatus();
  }
  auto self = processUserSid();
  if (!self.ok()) return self.error();
  if (EqualSid(owner, self->data())) return Status::okStatus();
  return Status::failedPrecondition("state directory " + display +
                                    " is owned by another account; give the agent a directory "
                                    "of its own");
}

// Creates every missing directory on the way to `dir`; `dir` itself, when created, is created
// with `leaf_security` so it is never accessible to others, not even briefly.
Status createDirectories(const std::wstring& dir, const std::string& display,
                         SECURITY_ATTRIBUTES* leaf_security) {
  namespace fs = std::filesystem;
  const fs::path target(dir);
  fs::path prefix;
  for (auto it = target.begin(); it != target.end(); ++it) {
    prefix /= *it;
    if (!prefix.has_relative_path()) continue;  // "C:\" or "\\server\share\" itself
    const bool leaf = std::next(it) == target.end();
    if (GetFileAttributesW(prefix.c_str()) != INVALID_FILE_ATTRIBUTES) continue;
    if (!CreateDirectoryW(prefix.c_str(), leaf ? leaf_security : nullptr)) {
      const DWORD err = GetLastError();
      if (err != ERROR_ALREADY_EXISTS) {
        return win32Status("cannot create state directory " + display, err);
      }
    }
  }
  return Status::okStatus();
}

class WindowsStateProtection final : public StateProtection {
 public:
  Status securePrivateDirectory(const std::string& dir) override {
    auto wide = toWide(dir);
    if (!wide.ok()) return wide.error();
    auto sd = securityDescriptorFromSddl(kPrivateDirectorySddl);
    if (!sd.ok()) return sd.error();
    SECURITY_ATTRIBUTES security{};
    security.nLength = sizeof security;
    security.lpSecurityDescriptor = sd->get();
    security.bInheritHandle = FALSE;
    Status created = createDirectories(*wide, dir, &security);
    if (!created.ok()) return created;

    const DWORD attributes = GetFileAttributesW(wide->c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) {
      return lastErrorStatus("cannot inspect state directory " + dir);
    }
    if ((attributes & FILE_ATTRIBUTE_DIRECTORY) == 0) {
      return Status::failedPrecondition("state directory " + dir + " is not a directory");
    }
    if ((attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
      return Status::failedPrecondition("state directory " + dir +
                                        " is a junction or symbolic link; give the agent a "
                                        "directory of its own");
    }
    Status owner = checkOwner(*wide, dir);
    if (!owner.ok()) return owner;
    return applyDacl(*wide, dir, kPrivateDirectorySddl);
  }

  Status securePrivateFile(const std::string& path) override {
    auto wide = toWide(path);
    if (!wide.ok()) return wide.error();
    return applyDacl(*wide, path, kPrivateFileSddl);
  }

  // The service runs as LocalSystem and the state is guarded by its DACL: an elevated
  // administrator writes there as the service would.
  Status actAsOwnerOf(const std::string& /*dir*/) override { return Status::okStatus(); }
};

}  // namespace

std::unique_ptr<StateProtection> makeStateProtection() {
  return std::make_unique<WindowsStateProtection>();
}

}  // namespace vigil::agent::windows
