# Builds cJSON as the static library `cjson` from the source tree VIGIL_CJSON_SOURCE_DIR, for
# targets without a cJSON package (the mingw cross build fetches Debian's own cJSON source).
# Consumers include <cjson/cJSON.h>, as with the packaged library.
enable_language(C)
if(NOT EXISTS "${VIGIL_CJSON_SOURCE_DIR}/cJSON.c" OR NOT EXISTS "${VIGIL_CJSON_SOURCE_DIR}/cJSON.h")
  message(FATAL_ERROR "VIGIL_CJSON_SOURCE_DIR=${VIGIL_CJSON_SOURCE_DIR} holds no cJSON.c/cJSON.h")
endif()
set(VIGIL_CJSON_INCLUDE_DIR ${CMAKE_BINARY_DIR}/cjson-include)
configure_file(${VIGIL_CJSON_SOURCE_DIR}/cJSON.h ${VIGIL_CJSON_INCLUDE_DIR}/cjson/cJSON.h COPYONLY)
add_library(cjson STATIC ${VIGIL_CJSON_SOURCE_DIR}/cJSON.c)
target_include_directories(cjson SYSTEM PUBLIC ${VIGIL_CJSON_INCLUDE_DIR})
# A static library: no __declspec(dllexport/dllimport) on Windows.
target_compile_definitions(cjson PUBLIC CJSON_HIDE_SYMBOLS)
