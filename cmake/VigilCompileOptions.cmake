# One place for compiler flags: every Vigil target links vigil_compile_options.
add_library(vigil_compile_options INTERFACE)
target_compile_options(vigil_compile_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                 -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                 -Wformat=2>)
target_include_directories(vigil_compile_options INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_definitions(vigil_compile_options INTERFACE
  VIGIL_VERSION="${PROJECT_VERSION}")
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
