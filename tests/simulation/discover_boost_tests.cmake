# Two roles, as CMake's own gtest_discover_tests has:
#
# Included from CMakeLists.txt: vigil_discover_boost_tests(TARGET PREFIX p LABELS l TIMEOUT s
# [EXCLUDE case ...]) makes one ctest entry `p.<case>` per Boost.Test case of TARGET, as
# TARGET itself lists them (--list_content) each time it is built: a case added to the source
# runs without a line here. Cases in EXCLUDE are registered by hand (with arguments of their
# own). Until TARGET is built, a single `p.NOT_BUILT` entry fails.
#
# Run with cmake -P (the POST_BUILD step): writes the ctest file of the listed cases, and fails
# the build if the executable cannot list them.

if(CMAKE_SCRIPT_MODE_FILE)
  cmake_minimum_required(VERSION 3.18)
  string(REPLACE "," ";" EMULATOR "${EMULATOR}")
  execute_process(COMMAND ${EMULATOR} "${EXECUTABLE}" --list_content
                  RESULT_VARIABLE listed ERROR_VARIABLE content OUTPUT_VARIABLE ignored)
  if(NOT listed EQUAL 0)
    message(FATAL_ERROR "${EXECUTABLE} --list_content failed (${listed}):\n${content}")
  endif()
  string(REPLACE "," ";" EXCLUDE "${EXCLUDE}")
  # One unit a line, indented four spaces per suite level; a unit whose next line is not
  # deeper is a test case. Its path for --run_test is its suites' names and its own, by '/'.
  string(REPLACE "\n" ";" lines "${content}")
  set(names "")
  set(depths "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^( *)([A-Za-z_][A-Za-z0-9_]*)\\*?$")
      string(LENGTH "${CMAKE_MATCH_1}" indent)
      math(EXPR depth "${indent} / 4")
      list(APPEND names "${CMAKE_MATCH_2}")
      list(APPEND depths "${depth}")
    endif()
  endforeach()
  list(LENGTH names count)
  if(count EQUAL 0)
    message(FATAL_ERROR "${EXECUTABLE} --list_content listed no test case:\n${content}")
  endif()
  set(script "")
  set(path_of_depth "")
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    list(GET names ${i} name)
    list(GET depths ${i} depth)
    # The path: the names of the enclosing suites (depths 0..depth-1), then this one.
    set(path "${name}")
    if(depth GREATER 0)
      math(EXPR parent_last "${depth} - 1")
      foreach(level RANGE ${parent_last} 0 -1)
        list(GET path_of_depth ${level} suite)
        set(path "${suite}/${path}")
      endforeach()
    endif()
    list(LENGTH path_of_depth known)
    if(known GREATER depth)
      list(SUBLIST path_of_depth 0 ${depth} path_of_depth)
    endif()
    list(APPEND path_of_depth "${name}")
    set(is_case TRUE)
    if(i LESS last)
      math(EXPR next "${i} + 1")
      list(GET depths ${next} next_depth)
      if(next_depth GREATER depth)
        set(is_case FALSE)
      endif()
    endif()
    if(NOT is_case OR name IN_LIST EXCLUDE)
      continue()
    endif()
    string(REPLACE "/" "." test_name "${PREFIX}.${path}")
    set(command "")
    foreach(word IN LISTS EMULATOR ITEMS "${EXECUTABLE}")
      string(APPEND command "[=[${word}]=] ")
    endforeach()
    string(APPEND script
           "add_test([=[${test_name}]=] ${command}[=[--run_test=${path}]=] "
           "[=[--log_level=message]=])\n"
           "set_tests_properties([=[${test_name}]=] PROPERTIES LABELS [=[${LABELS}]=] "
           "TIMEOUT ${TIMEOUT})\n")
  endforeach()
  file(WRITE "${OUTPUT}" "${script}")
  return()
endif()

set(VIGIL_DISCOVER_BOOST_TESTS_SCRIPT "${CMAKE_CURRENT_LIST_FILE}")

function(vigil_discover_boost_tests target)
  cmake_parse_arguments(ARG "" "PREFIX;LABELS;TIMEOUT" "EXCLUDE" ${ARGN})
  set(listed "${CMAKE_CURRENT_BINARY_DIR}/${target}_cases.cmake")
  string(REPLACE ";" "," exclude "${ARG_EXCLUDE}")
  # A cross build runs the executable through its emulator (wine), as ctest does.
  string(REPLACE ";" "," emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
  add_custom_command(
    TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" -D "EXECUTABLE=$<TARGET_FILE:${target}>" -D "OUTPUT=${listed}"
            -D "PREFIX=${ARG_PREFIX}" -D "LABELS=${ARG_LABELS}" -D "TIMEOUT=${ARG_TIMEOUT}"
            -D "EXCLUDE=${exclude}" -D "EMULATOR=${emulator}" -P "${VIGIL_DISCOVER_BOOST_TESTS_SCRIPT}"
    COMMENT "Listing the test cases of ${target}"
    VERBATIM)
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  file(WRITE "${include_file}"
       "if(EXISTS [=[${listed}]=])\n"
       "  include([=[${listed}]=])\n"
       "else()\n"
       "  add_test([=[${ARG_PREFIX}.NOT_BUILT]=] [=[${target}_NOT_BUILT]=])\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
