#pragma once

// The security descriptors the Windows StateProtection applies (makeStateProtection() in
// windows_platform.h), in SDDL. Both DACLs are protected ("P": nothing is inherited from the
// parent) and grant full access ("FA") to LocalSystem ("SY", S-1-5-18) and
// BUILTIN\Administrators ("BA", S-1-5-32-544) and nothing to anyone else.

namespace vigil::agent::windows {

// The state directory's: what is created inside it inherits both entries ("OICI").
inline constexpr wchar_t kPrivateDirectorySddl[] = L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

// A state file's.
inline constexpr wchar_t kPrivateFileSddl[] = L"D:P(A;;FA;;;SY)(A;;FA;;;BA)";

}  // namespace vigil::agent::windows
