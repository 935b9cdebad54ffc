#pragma once

#include <string>

namespace vigil::agent::windows {

// The agent's default state directory on Windows, in UTF-8: "<ProgramData>\Vigil\agent", where
// <ProgramData> is the known folder FOLDERID_ProgramData (normally C:\ProgramData). Falls back
// to %ProgramData%, then to C:\ProgramData, if the known folder cannot be resolved. The
// directory is not created (StateProtection::securePrivateDirectory does that).
std::string defaultStateDirectory();

}  // namespace vigil::agent::windows
