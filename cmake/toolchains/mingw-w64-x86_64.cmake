# Cross-compiles Vigil for 64-bit Windows with Debian's mingw-w64 (package
# g++-mingw-w64-x86-64-posix) and runs the built tests under wine.
#
# The posix thread variant of the compilers is required: GCC 12's win32 variant has no
# std::thread or std::mutex. libgcc, libstdc++ and winpthread are linked statically, so every
# .exe runs under wine (or on Windows) without copying DLLs next to it.
#
# Usage: cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake
# (scripts/windows-cross-test.sh sets the other options the cross build needs).

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VIGIL_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${VIGIL_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${VIGIL_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${VIGIL_MINGW_TRIPLE}-windres)

# Libraries, headers and CMake packages come from the mingw sysroot only, never from the
# build machine's /usr (a Linux header or libcurl must not leak into the Windows build).
set(CMAKE_FIND_ROOT_PATH /usr/${VIGIL_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# ctest runs every test executable through wine, in a wine prefix of the build tree's own
# (created on first use). Debian installs the 64-bit loader as /usr/lib/wine/wine64; `wine`
# also works but complains when the 32-bit half is missing.
find_program(VIGIL_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(VIGIL_WINE)
  set(VIGIL_WINEPREFIX "${CMAKE_BINARY_DIR}/wineprefix" CACHE PATH
      "Wine prefix the cross-compiled tests run in")
  # mscoree and mshtml are disabled so a fresh prefix never offers to install Mono or Gecko.
  # wine-run.sh starts a program once more when wine failed to start it (see there).
  set(CMAKE_CROSSCOMPILING_EMULATOR
      /usr/bin/env WINEPREFIX=${VIGIL_WINEPREFIX} WINEDEBUG=-all
      WINEDLLOVERRIDES=mscoree,mshtml= /bin/bash ${CMAKE_CURRENT_LIST_DIR}/wine-run.sh
      ${VIGIL_WINE})
endif()
