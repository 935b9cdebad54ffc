# The Linux packages (issue 7): what the agent's and the collector's packages install besides
# their binaries, and CPack's DEB and RPM generators. One build gives four packages, one per
# install component and package format:
#
#   component "agent"     -> vigil-agent_<V>-1_<arch>.deb      vigil-agent-<V>-1.<arch>.rpm
#   component "collector" -> vigil-collector_<V>-1_<arch>.deb  vigil-collector-<V>-1.<arch>.rpm
#
# (CPack's DEB-DEFAULT and RPM-DEFAULT file names). scripts/package.sh builds, packs and lints
# them. The binaries' own install() rules are in agent/app and collector/app. The layout is
# the packages' (/usr, /etc/vigil, /usr/lib/systemd/system): the units name /usr/bin.
#
# Sources: packaging/systemd (units), packaging/linux (configuration files, sysusers.d,
# man pages, the maintainer scripts' shell functions), packaging/debian (changelog,
# maintainer scripts, lintian overrides), packaging/rpm (scriptlets, rpmlintrc).
# Generated at configure time into <build>/packaging: gzipped man pages and Debian
# changelog, the DEP-5 copyright file (from LICENSE), the RPM %changelog (from the Debian
# changelog), conffiles lists, and maintainer scripts with their shell functions pasted in
# (packaging/linux/maint).

if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

include(GNUInstallDirs)

set(VIGIL_PACKAGE_VERSION "" CACHE STRING
    "Version of the Linux packages; empty: the project's (scripts/package.sh --version)")

set(_vigil_pkg_src "${PROJECT_SOURCE_DIR}/packaging")
set(_vigil_pkg_gen "${PROJECT_BINARY_DIR}/packaging")
set(_vigil_maintainer "Vigil developers <dev@vigil-presence.org>")
set(_vigil_homepage "https://github.com/vigil-presence/vigil")
if(VIGIL_PACKAGE_VERSION)
  set(_vigil_pkg_version "${VIGIL_PACKAGE_VERSION}")
else()
  set(_vigil_pkg_version "${PROJECT_VERSION}")
endif()
set(_vigil_pkg_release 1)

set(_vigil_components)
if(VIGIL_BUILD_AGENT_APP)
  list(APPEND _vigil_components agent)
endif()
if(VIGIL_BUILD_COLLECTOR)
  list(APPEND _vigil_components collector)
endif()

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(MAKE_DIRECTORY "${_vigil_pkg_gen}/debian" "${_vigil_pkg_gen}/rpm" "${_vigil_pkg_gen}/man")

# gzip -9n: maximal compression, no name or time stamp (lintian's expectation; reproducible).
function(_vigil_gzip file)
  execute_process(COMMAND gzip -9nkf "${file}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip -9nkf ${file} failed")
  endif()
endfunction()

# --- changelogs -------------------------------------------------------------------------
# packaging/debian/changelog is the one changelog (Debian format; its top entry is the
# project version, which tests check). A package version other than that entry's
# (scripts/package.sh --version, for upgrade tests) gets a generated entry on top.
set(_vigil_changelog_src "${_vigil_pkg_src}/debian/changelog")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_vigil_changelog_src}")
file(READ "${_vigil_changelog_src}" _vigil_changelog)
string(REGEX MATCH "^vigil \\(([^)]+)\\)" _ "${_vigil_changelog}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "${_vigil_changelog_src}: the first line is not 'vigil (VERSION) ...'")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL "${_vigil_pkg_version}-${_vigil_pkg_release}")
  string(TIMESTAMP _vigil_now "%a, %d %b %Y %H:%M:%S +0000" UTC)
  string(PREPEND _vigil_changelog
    "vigil (${_vigil_pkg_version}-${_vigil_pkg_release}) unstable; urgency=medium\n\n"
    "  * Package built as version ${_vigil_pkg_version} (scripts/package.sh --version).\n\n"
    " -- ${_vigil_maintainer}  ${_vigil_now}\n\n")
endif()
file(WRITE "${_vigil_pkg_gen}/debian/changelog.Debian" "${_vigil_changelog}")
_vigil_gzip("${_vigil_pkg_gen}/debian/changelog.Debian")

# The RPM %changelog, entry by entry from the Debian one: "* Day Mon DD YYYY Name <mail> -
# VERSION" then "- " for each "  * " item. Semicolons and brackets are masked while the text
# is a CMake list.
string(REPLACE ";" "@SEMICOLON@" _vigil_lines "${_vigil_changelog}")
string(REPLACE "[" "@LBRACKET@" _vigil_lines "${_vigil_lines}")
string(REPLACE "]" "@RBRACKET@" _vigil_lines "${_vigil_lines}")
string(REPLACE "\n" ";" _vigil_lines "${_vigil_lines}")
set(_vigil_rpm_changelog "")
set(_vigil_entry_version "")
set(_vigil_entry_items "")
foreach(_line IN LISTS _vigil_lines)
  if(_line MATCHES "^vigil \\(([^)]+)\\)")
    set(_vigil_entry_version "${CMAKE_MATCH_1}")
    set(_vigil_entry_items "")
  elseif(_line MATCHES "^  \\* (.*)$")
    string(APPEND _vigil_entry_items "- ${CMAKE_MATCH_1}\n")
  elseif(_line MATCHES "^    (.*)$")
    string(APPEND _vigil_entry_items "  ${CMAKE_MATCH_1}\n")
  elseif(_line MATCHES "^ -- (.+)  ([A-Z][a-z][a-z]), ([0-9]+) ([A-Z][a-z][a-z]) ([0-9]+) ")
    string(APPEND _vigil_rpm_changelog
      "* ${CMAKE_MATCH_2} ${CMAKE_MATCH_4} ${CMAKE_MATCH_3} ${CMAKE_MATCH_5} ${CMAKE_MATCH_1}"
      " - ${_vigil_entry_version}\n${_vigil_entry_items}\n")
  endif()
endforeach()
string(REPLACE "@SEMICOLON@" ";" _vigil_rpm_changelog "${_vigil_rpm_changelog}")
string(REPLACE "@LBRACKET@" "[" _vigil_rpm_changelog "${_vigil_rpm_changelog}")
string(REPLACE "@RBRACKET@" "]" _vigil_rpm_changelog "${_vigil_rpm_changelog}")
string(STRIP "${_vigil_rpm_changelog}" _vigil_rpm_changelog)
file(WRITE "${_vigil_pkg_gen}/rpm/changelog" "${_vigil_rpm_changelog}\n")

# --- copyright (DEP-5) from LICENSE ----------------------------------------------------------
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/LICENSE")
file(READ "${PROJECT_SOURCE_DIR}/LICENSE" _vigil_license)
if(NOT _vigil_license MATCHES "Copyright \\([cC]\\) ([^\n]+)\n+(.*)$")
  message(FATAL_ERROR "LICENSE has no 'Copyright (c) ...' line")
endif()
set(_vigil_copyright_holder "${CMAKE_MATCH_1}")
string(STRIP "${CMAKE_MATCH_2}" _vigil_license_text)
# DEP-5 license text: every line indented by one space, a blank line written " .".
string(REPLACE "\n\n" "\n.\n" _vigil_license_text "${_vigil_license_text}")
string(REPLACE "\n" "\n " _vigil_license_text " ${_vigil_license_text}\n")
string(STRIP "${_vigil_license_text}" _vigil_license_text)
string(PREPEND _vigil_license_text " ")
string(APPEND _vigil_license_text "\n")
file(WRITE "${_vigil_pkg_gen}/copyright"
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
  "Upstream-Name: vigil\n"
  "Upstream-Contact: ${_vigil_maintainer}\n"
  "Source: ${_vigil_homepage}\n"
  "\n"
  "Files: *\n"
  "Copyright: ${_vigil_copyright_holder}\n"
  "License: MIT\n"
  "\n"
  "License: MIT\n"
  "${_vigil_license_text}")

# --- maintainer scripts ------------------------------------------------------------------
# A script's line "#VIGIL_INCLUDE <file>#" is replaced by packaging/linux/maint/<file> (shell
# functions), so the installed scripts stand alone.
function(_vigil_maint_script src dst)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${src}")
  file(READ "${src}" text)
  string(REGEX MATCHALL "#VIGIL_INCLUDE [A-Za-z0-9._-]+#" includes "${text}")
  foreach(include IN LISTS includes)
    string(REGEX REPLACE "^#VIGIL_INCLUDE (.*)#$" "\\1" name "${include}")
    set(part "${_vigil_pkg_src}/linux/maint/${name}")
    if(NOT EXISTS "${part}")
      message(FATAL_ERROR "${src}: ${include}: no such file ${part}")
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${part}")
    file(READ "${part}" part_text)
    string(REPLACE "${include}\n" "${part_text}" text "${text}")
  endforeach()
  get_filename_component(dir "${dst}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dst}" "${text}")
  file(CHMOD "${dst}" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
       GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endfunction()

# --- per component -----------------------------------------------------------------------
# _vigil_component(COMPONENT PACKAGE CONFFILE): the files every package has besides its
# binary: unit, sysusers.d entry, configuration file (a conffile), man page, copyright,
# Debian changelog, lintian overrides, maintainer scripts.
function(_vigil_component component package conffile)
  set(src "${_vigil_pkg_src}")
  set(gen "${_vigil_pkg_gen}")

  install(FILES "${src}/systemd/${package}.service"
          DESTINATION lib/systemd/system COMPONENT ${component})
  install(FILES "${src}/linux/sysusers.d/${package}.conf"
          DESTINATION lib/sysusers.d COMPONENT ${component})
  install(FILES "${src}/linux/${conffile}" DESTINATION /etc/vigil COMPONENT ${component})

  configure_file("${src}/linux/man/${package}.8.in" "${gen}/man/${package}.8" @ONLY)
  _vigil_gzip("${gen}/man/${package}.8")
  install(FILES "${gen}/man/${package}.8.gz"
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT ${component})

  set(doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package})
  install(FILES "${gen}/copyright" "${gen}/debian/changelog.Debian.gz"
          DESTINATION ${doc} COMPONENT ${component})
  install(FILES "${src}/debian/${component}/lintian-overrides"
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
          RENAME ${package} COMPONENT ${component})

  file(WRITE "${gen}/debian/${component}/conffiles" "/etc/vigil/${conffile}\n")
  set(control_extra "${gen}/debian/${component}/conffiles")
  foreach(script postinst prerm postrm)
    _vigil_maint_script("${src}/debian/${component}/${script}"
                        "${gen}/debian/${component}/${script}")
    list(APPEND control_extra "${gen}/debian/${component}/${script}")
  endforeach()
  foreach(script post preun postun)
    _vigil_maint_script("${src}/rpm/${package}.${script}" "${gen}/rpm/${package}.${script}")
  endforeach()

  string(TOUPPER "${component}" c)
  set(CPACK_DEBIAN_${c}_PACKAGE_NAME ${package} PARENT_SCOPE)
  set(CPACK_DEBIAN_${c}_PACKAGE_CONTROL_EXTRA "${control_extra}" PARENT_SCOPE)
  set(CPACK_RPM_${c}_PACKAGE_NAME ${package} PARENT_SCOPE)
  set(CPACK_RPM_${c}_POST_INSTALL_SCRIPT_FILE "${gen}/rpm/${package}.post" PARENT_SCOPE)
  set(CPACK_RPM_${c}_PRE_UNINSTALL_SCRIPT_FILE "${gen}/rpm/${package}.preun" PARENT_SCOPE)
  set(CPACK_RPM_${c}_POST_UNINSTALL_SCRIPT_FILE "${gen}/rpm/${package}.postun" PARENT_SCOPE)
  # RPM: the configuration file is %config(noreplace) (an edited one is kept on upgrade);
  # the Debian-only files are left out.
  set(CPACK_RPM_${c}_USER_FILELIST
      "%config(noreplace) /etc/vigil/${conffile}"
      "%license /usr/${doc}/copyright"
      "%exclude /usr/${doc}/changelog.Debian.gz"
      "%exclude /usr/${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides/${package}"
      PARENT_SCOPE)
endfunction()

if("agent" IN_LIST _vigil_components)
  _vigil_component(agent vigil-agent agent.conf)
endif()
if("collector" IN_LIST _vigil_components)
  _vigil_component(collector vigil-collector collector.properties)
endif()

# --- CPack -------------------------------------------------------------------------------
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VERSION "${_vigil_pkg_version}")
set(CPACK_PACKAGE_VENDOR "Vigil developers")
set(CPACK_PACKAGE_CONTACT "${_vigil_maintainer}")
set(CPACK_PACKAGE_HOMEPAGE_URL "${_vigil_homepage}")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL ${_vigil_components})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_STRIP_FILES ON)

# Descriptions: a summary, then lines of at most 79 characters (lintian and rpmlint).
set(_vigil_agent_summary "Vigil presence agent for Linux endpoints")
set(_vigil_agent_description
"Vigil tells a managed service provider, truthfully and quickly, which of its
endpoints are online. This agent runs on each endpoint as a small sandboxed
systemd service and sends signed heartbeats, UDP beacons and LAN peer
sightings to a Vigil collector. It opens no TCP port and runs no remote
commands. The package can enroll the agent silently while it installs
(VIGIL_SERVER_URL and VIGIL_ENROLL_TOKEN), and retires it from its collector
when it is removed.")
set(_vigil_collector_summary "Vigil presence collector and admin API")
set(_vigil_collector_description
"Vigil tells a managed service provider, truthfully and quickly, which of its
endpoints are online. The collector receives the Vigil agents' heartbeats and
beacons, decides each endpoint's status, raises an offline alert only when an
endpoint is really gone, and holds its alerts back while the fault is its
own. It keeps its state in an embedded SQLite database and serves a REST admin
API, webhooks and Prometheus metrics.")

# DEB
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${_vigil_pkg_release})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${_vigil_homepage}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${_vigil_maintainer}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# passwd: groupadd and useradd in postinst (not Essential). ca-certificates: the system CA
# store, which verifies the collector's (agent) and webhook receivers' (collector)
# certificates.
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_AGENT_DESCRIPTION "${_vigil_agent_summary}\n${_vigil_agent_description}")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_SECTION net)
# tzdata: business hours and availability reports are computed in tenants' time zones
# (common/time_zone.h reads /usr/share/zoneinfo).
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "passwd, tzdata")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_SUGGESTS "sqlite3")
set(CPACK_DEBIAN_COLLECTOR_DESCRIPTION
    "${_vigil_collector_summary}\n${_vigil_collector_description}")

# RPM (dependencies on shared libraries: rpmbuild's automatic ones)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE ${_vigil_pkg_release})
set(CPACK_RPM_PACKAGE_LICENSE MIT)
set(CPACK_RPM_PACKAGE_URL "${_vigil_homepage}")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_PACKAGE_RELOCATABLE OFF)  # RPM: no Prefix:, the units name /usr/bin
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_CHANGELOG_FILE "${_vigil_pkg_gen}/rpm/changelog")
set(CPACK_RPM_PACKAGE_REQUIRES_POST "/usr/sbin/groupadd, /usr/sbin/useradd")
set(CPACK_RPM_AGENT_PACKAGE_SUMMARY "${_vigil_agent_summary}")
set(CPACK_RPM_AGENT_PACKAGE_DESCRIPTION "${_vigil_agent_description}")
set(CPACK_RPM_COLLECTOR_PACKAGE_SUMMARY "${_vigil_collector_summary}")
set(CPACK_RPM_COLLECTOR_PACKAGE_DESCRIPTION "${_vigil_collector_description}")
set(CPACK_RPM_COLLECTOR_PACKAGE_REQUIRES "tzdata")
# Directories the packages put files in but do not own (the filesystem package or systemd
# does).
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d
    /usr/share/man /usr/share/man/man8 /usr/share/lintian /usr/share/lintian/overrides)
# No /usr/lib/.build-id links: the binaries are stripped and no debuginfo package is built.
# The Packager tag comes from the packager macro.
set(CPACK_RPM_SPEC_MORE_DEFINE
    "%define _build_id_links none\n%define packager ${_vigil_maintainer}")

include(CPack)
