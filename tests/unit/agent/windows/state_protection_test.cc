#define BOOST_TEST_MODULE agent_windows_state_protection
#include <windows.h>
// (aclapi.h and sddl.h need windows.h first.)
#include <aclapi.h>
#include <sddl.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "agent/platform/windows/state_protection_windows.h"
#include "agent/platform/windows/windows_platform.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
namespace win = vigil::agent::windows;
namespace utf = boost::unit_test;

namespace {

std::string codeOf(const vigil::Status& st) { return vigil::statusCodeName(st.code()); }

// Wine keeps no Windows ACLs on files (it maps a DACL to Unix mode bits and reads back a
// DACL made from them), so what is on disk can be checked on Windows only.
bool runningOnWine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

struct NotOnWine {
  boost::test_tools::assertion_result operator()(utf::test_unit_id) const {
    boost::test_tools::assertion_result r(!runningOnWine());
    r.message() << "wine does not store file DACLs";
    return r;
  }
};

// What a security descriptor's DACL grants.
struct DaclReport {
  bool ok = false;
  bool is_protected = false;
  int aces = 0;
  int system_full_control = 0;  // allow ACEs for S-1-5-18 with FILE_ALL_ACCESS
  int admins_full_control = 0;  // allow ACEs for S-1-5-32-544 with FILE_ALL_ACCESS
  int other = 0;
  int inheritable = 0;  // ACEs with OBJECT_INHERIT_ACE and CONTAINER_INHERIT_ACE
};

DaclReport describe(PSECURITY_DESCRIPTOR sd) {
  DaclReport r;
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  if (!GetSecurityDescriptorControl(sd, &control, &revision) ||
      !GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) || !present || !dacl) {
    return r;
  }
  r.ok = true;
  r.is_protected = (control & SE_DACL_PROTECTED) != 0;
  r.aces = dacl->AceCount;
  for (DWORD i = 0; i < dacl->AceCount; ++i) {
    void* ace = nullptr;
    if (!GetAce(dacl, i, &ace)) continue;
    auto* header = static_cast<ACE_HEADER*>(ace);
    if ((header->AceFlags & (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE)) ==
        (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE)) {
      ++r.inheritable;
    }
    if (header->AceType != ACCESS_ALLOWED_ACE_TYPE) {
      ++r.other;
      continue;
    }
    auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
    PSID sid = &allowed->SidStart;
    const bool full = (allowed->Mask & FILE_ALL_ACCESS) == FILE_ALL_ACCESS;
    if (full && IsWellKnownSid(sid, WinLocalSystemSid)) {
      ++r.system_full_control;
    } else if (full && IsWellKnownSid(sid, WinBuiltinAdministratorsSid)) {
      ++r.admins_full_control;
    } else {
      ++r.other;
    }
  }
  return r;
}

DaclReport describeSddl(const wchar_t* sddl) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, nullptr)) {
    return DaclReport{};
  }
  DaclReport r = describe(sd);
  LocalFree(sd);
  return r;
}

DaclReport describePath(const fs::path& path) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                            nullptr, nullptr, nullptr, &sd) != ERROR_SUCCESS) {
    return DaclReport{};
  }
  DaclReport r = describe(sd);
  LocalFree(sd);
  return r;
}

void checkSystemAndAdministratorsOnly(const DaclReport& r) {
  BOOST_TEST_REQUIRE(r.ok);
  BOOST_TEST(r.is_protected);
  BOOST_TEST(r.aces == 2);
  BOOST_TEST(r.system_full_control == 1);
  BOOST_TEST(r.admins_full_control == 1);
  BOOST_TEST(r.other == 0);
}

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

BOOST_AUTO_TEST_CASE(directory_descriptor_grants_system_and_administrators_only) {
  const DaclReport r = describeSddl(win::kPrivateDirectorySddl);
  checkSystemAndAdministratorsOnly(r);
  BOOST_TEST(r.inheritable == 2);  // what is created inside inherits both entries
}

BOOST_AUTO_TEST_CASE(file_descriptor_grants_system_and_administrators_only) {
  const DaclReport r = describeSddl(win::kPrivateFileSddl);
  checkSystemAndAdministratorsOnly(r);
  BOOST_TEST(r.inheritable == 0);
}

BOOST_AUTO_TEST_CASE(state_directory_is_created_with_its_parents_and_files_written_inside) {
  vigil::testing::TempDir tmp;
  const fs::path dir = tmp.path() / "ProgramData" / "Vigil" / "agent";
  auto protection = win::makeStateProtection();
  vigil::Status st = protection->securePrivateDirectory(dir.u8string());
  BOOST_TEST_REQUIRE(st.ok(), st.toString());
  BOOST_TEST(fs::is_directory(dir));
  st = protection->securePrivateDirectory(dir.u8string());  // again: already there
  BOOST_TEST(st.ok(), st.toString());

  const fs::path file = dir / "identity.json.tmp";
  std::ofstream(file, std::ios::binary) << "{\"agent_id\":\"a\"}";
  st = protection->securePrivateFile(file.u8string());
  BOOST_TEST(st.ok(), st.toString());
  BOOST_TEST(readAll(file) == "{\"agent_id\":\"a\"}");  // the agent (an administrator) reads it
}

BOOST_AUTO_TEST_CASE(secured_directory_and_file_carry_the_private_dacl,
                     *utf::precondition(NotOnWine())) {
  vigil::testing::TempDir tmp;
  const fs::path dir = tmp.path() / "state";
  auto protection = win::makeStateProtection();
  vigil::Status st = protection->securePrivateDirectory(dir.u8string());
  BOOST_TEST_REQUIRE(st.ok(), st.toString());
  const DaclReport d = describePath(dir);
  checkSystemAndAdministratorsOnly(d);
  BOOST_TEST(d.inheritable == 2);

  const fs::path file = dir / "sequence.tmp";
  std::ofstream(file, std::ios::binary) << "42";
  st = protection->securePrivateFile(file.u8string());
  BOOST_TEST_REQUIRE(st.ok(), st.toString());
  checkSystemAndAdministratorsOnly(describePath(file));
}

BOOST_AUTO_TEST_CASE(a_file_is_refused_as_state_directory) {
  vigil::testing::TempDir tmp;
  const fs::path file = tmp.write("not-a-dir", "x");
  auto protection = win::makeStateProtection();
  vigil::Status st = protection->securePrivateDirectory(file.u8string());
  BOOST_TEST(codeOf(st) == "FAILED_PRECONDITION", st.toString());
}

BOOST_AUTO_TEST_CASE(missing_file_cannot_be_secured) {
  vigil::testing::TempDir tmp;
  auto protection = win::makeStateProtection();
  vigil::Status st = protection->securePrivateFile(tmp.sub("missing"));
  BOOST_TEST(codeOf(st) == "NOT_FOUND", st.toString());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_path_is_refused) {
  auto protection = win::makeStateProtection();
  vigil::Status st = protection->securePrivateDirectory("C:\\bad\xff\xfe");
  BOOST_TEST(codeOf(st) == "INVALID_ARGUMENT", st.toString());
}
