# One place for compiler flags: every Vigil target links vigil_compile_options.
add_library(vigil_compile_options INTERFACE)
target_compile_options(vigil_compile_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                 -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                 -Wformat=2>)
# Clang checks the locking that GUARDED_BY/REQUIRES annotations promise
# (common/thread_annotations.h); a broken promise fails the build.
target_compile_options(vigil_compile_options INTERFACE
  $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety -Werror=thread-safety>)
target_include_directories(vigil_compile_options INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_definitions(vigil_compile_options INTERFACE
  VIGIL_VERSION="${PROJECT_VERSION}")
# Hardening, as Debian builds its packages (dpkg-buildflags, hardening=+all): stack protector,
# fortified libc calls where optimization allows them, read-only relocations bound at start.
# The packages are made from such a build (scripts/package.sh; lintian checks it). Sanitizer
# and fuzz builds go without. A target whose own sources build unoptimized sets the property
# VIGIL_UNOPTIMIZED (fortification needs optimization).
if(NOT VIGIL_SANITIZE AND NOT VIGIL_FUZZ AND NOT WIN32 AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(vigil_compile_options INTERFACE -fstack-protector-strong
    -Werror=format-security)
  target_compile_definitions(vigil_compile_options INTERFACE
    $<$<AND:$<NOT:$<CONFIG:Debug>>,$<NOT:$<BOOL:$<TARGET_PROPERTY:VIGIL_UNOPTIMIZED>>>>:_FORTIFY_SOURCE=2>)
  target_link_options(vigil_compile_options INTERFACE -Wl,-z,relro -Wl,-z,now)
endif()
if(VIGIL_SANITIZE)
  target_compile_options(vigil_compile_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(vigil_compile_options INTERFACE -fsanitize=address,undefined)
endif()
# Fuzz builds (clang): every library is instrumented for coverage and checked by the
# sanitizers, not only the fuzz target's own source; the targets add libFuzzer's main.
if(VIGIL_FUZZ)
  target_compile_options(vigil_compile_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_link_options(vigil_compile_options INTERFACE -fsanitize=address,undefined)
endif()
