# packaging.cmake: install rules and CPack configuration for the meshsnap .deb and .rpm,
# plus the packaging tests. Included at the end of the top-level CMakeLists.txt.
#
#   cmake --build B && (cd B && cpack -G "DEB;RPM")
#     -> meshsnap_<version>_<arch>.deb, meshsnap-<version>-1.<arch>.rpm
#   (`make package` does this with Debian's hardening build flags.)
#
# Layout (the package installs under /usr whatever CMAKE_INSTALL_PREFIX is):
#   /usr/sbin/meshsnapd, /usr/bin/meshsnap
#   /etc/meshsnap/meshsnap.conf                 conffile (deb), %config(noreplace) (rpm);
#                                               0640 root:meshsnap once installed
#   /usr/lib/systemd/system/meshsnap.service    the unit (StateDirectory=meshsnap)
#   /usr/lib/sysusers.d/meshsnap.conf           the meshsnap system user
#   /usr/share/man/man8/meshsnapd.8.gz, /usr/share/man/man1/meshsnap.1.gz
#   /usr/share/doc/meshsnap/{copyright,changelog.gz}
#   /usr/share/meshsnap/ui/                     the dashboard (ui/build.py's output), the
#                                               default [http] ui_root
#   /usr/share/lintian/overrides/meshsnap       (deb only)
# Nothing under /var: systemd creates /var/lib/meshsnap at the first start.

set(MSN_PKG_SRC ${CMAKE_SOURCE_DIR}/packaging)
set(MSN_PKG_GEN ${CMAKE_BINARY_DIR}/packaging)

set(MESHSNAP_PACKAGE_CONTACT "meshsnap maintainers <maintainers@users.noreply.b-seed-f8355ac8.example>"
    CACHE STRING "Maintainer of the meshsnap packages (Debian Maintainer, RPM Packager)")
set(MESHSNAP_PACKAGE_LICENSE "LicenseRef-meshsnap-unspecified" CACHE STRING "RPM License tag")
set(MESHSNAP_PACKAGE_URL "" CACHE STRING "Project home page (Debian Homepage, RPM URL); empty = none")

# --- generated files: man pages (version filled in) and changelog, gzip -9n (no name, no
# time stamp: the same input gives the same bytes).
set(MSN_PKG_GZ_FILES)
function(msn_pkg_gzip src out)
  add_custom_command(OUTPUT ${out}
    COMMAND sh -c "gzip -9n -c \"$0\" > \"$1\"" ${src} ${out}
    DEPENDS ${src} VERBATIM)
  set(MSN_PKG_GZ_FILES ${MSN_PKG_GZ_FILES} ${out} PARENT_SCOPE)
endfunction()
configure_file(${MSN_PKG_SRC}/man/meshsnapd.8 ${MSN_PKG_GEN}/meshsnapd.8 @ONLY)
configure_file(${MSN_PKG_SRC}/man/meshsnap.1 ${MSN_PKG_GEN}/meshsnap.1 @ONLY)
msn_pkg_gzip(${MSN_PKG_GEN}/meshsnapd.8 ${MSN_PKG_GEN}/meshsnapd.8.gz)
msn_pkg_gzip(${MSN_PKG_GEN}/meshsnap.1 ${MSN_PKG_GEN}/meshsnap.1.gz)
msn_pkg_gzip(${MSN_PKG_SRC}/changelog ${MSN_PKG_GEN}/changelog.gz)
add_custom_target(meshsnap_package_files ALL DEPENDS ${MSN_PKG_GZ_FILES})

# The newest changelog entry must name this version (tests/packaging/build_check.sh fails
# on a mismatch too).
file(STRINGS ${MSN_PKG_SRC}/changelog _msn_cl_top LIMIT_COUNT 1)
if(NOT _msn_cl_top MATCHES "^meshsnap \\(${PROJECT_VERSION}\\) ")
  message(WARNING "packaging/changelog: the newest entry is '${_msn_cl_top}', "
                  "not version ${PROJECT_VERSION}; add an entry before building packages")
endif()

# --- install rules
install(TARGETS meshsnapd RUNTIME DESTINATION sbin)
install(TARGETS meshsnap RUNTIME DESTINATION bin)
# A stripped install (CPACK_STRIP_FILES) also drops the compiler's .comment section, as
# dh_strip does.
find_program(MSN_OBJCOPY NAMES objcopy ${CMAKE_OBJCOPY})
if(MSN_OBJCOPY)
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      foreach(f sbin/meshsnapd bin/meshsnap)
        execute_process(COMMAND \"${MSN_OBJCOPY}\" --remove-section=.comment
                                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${f}\"
                        RESULT_VARIABLE rc)
        if(NOT rc EQUAL 0)
          message(FATAL_ERROR \"objcopy failed on \${f}\")
        endif()
      endforeach()
    endif()")
endif()
install(FILES ${CMAKE_SOURCE_DIR}/conf/meshsnap.conf DESTINATION /etc/meshsnap
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# Relative: /usr/lib/systemd/system (CMAKE_INSTALL_LIBDIR would add the multiarch triplet).
install(FILES ${MSN_PKG_SRC}/meshsnap.service DESTINATION lib/systemd/system)
install(FILES ${MSN_PKG_SRC}/meshsnap.sysusers DESTINATION lib/sysusers.d RENAME meshsnap.conf)
install(FILES ${MSN_PKG_GEN}/meshsnapd.8.gz DESTINATION share/man/man8)
install(FILES ${MSN_PKG_GEN}/meshsnap.1.gz DESTINATION share/man/man1)
install(FILES ${MSN_PKG_SRC}/copyright ${MSN_PKG_GEN}/changelog.gz DESTINATION share/doc/meshsnap)
# The dashboard as ui/build.py wrote it (ui/ui.cmake; the workers serve it; MESHSNAP_UI_DIR
# is this place).
install(DIRECTORY ${CMAKE_BINARY_DIR}/ui/ DESTINATION share/meshsnap/ui
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# Lintian reads these from the .deb; the .rpm leaves them out (%exclude below).
install(FILES ${MSN_PKG_SRC}/debian/lintian-overrides DESTINATION share/lintian/overrides
        RENAME meshsnap)

# --- CPack, common
set(CPACK_PACKAGE_NAME meshsnap)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "meshsnap")
set(CPACK_PACKAGE_CONTACT "${MESHSNAP_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MeshCore packet analytics server for CoreScope databases")
set(_msn_pkg_description
    "meshsnap serves the CoreScope HTTP API for MeshCore mesh-radio packet\n"
    "analytics from immutable LMDB snapshots of a CoreScope SQLite database.\n"
    "A master process loads the database and publishes snapshots, prefork HTTP\n"
    "workers answer readers without locks, and a backfiller runs schema\n"
    "migrations and backfills in small committed chunks.\n"
    "The package ships the meshsnapd daemon with its systemd unit, and the\n"
    "meshsnap command-line tool (packet decoder and importer, database\n"
    "creation and generation, status of the running daemon).")
string(CONCAT _msn_pkg_description ${_msn_pkg_description})
if(MESHSNAP_PACKAGE_URL)
  set(CPACK_PACKAGE_HOMEPAGE_URL "${MESHSNAP_PACKAGE_URL}")
endif()
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
# CPack.cmake defaults this to ON, which makes the RPM relocatable ("Prefix: /usr").
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_SOURCE_IGNORE_FILES "/build[^/]*/;/\\\\.git/")

# --- DEB
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Body only: CPack puts the summary on the first line and indents the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${_msn_pkg_description}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_PREDEPENDS "init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${MSN_PKG_SRC}/debian/conffiles;${MSN_PKG_SRC}/debian/postinst;${MSN_PKG_SRC}/debian/prerm;${MSN_PKG_SRC}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# --- RPM
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_LICENSE "${MESHSNAP_PACKAGE_LICENSE}")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_SPEC_MORE_DEFINE "%define packager ${MESHSNAP_PACKAGE_CONTACT}")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${_msn_pkg_description}")
# Absolute destinations become plain %config; the conffile must survive upgrades.
# Mode 0640 root:meshsnap (private channel keys); %pre creates the group first.
set(CPACK_RPM_USER_FILELIST "%attr(0640,root,meshsnap) %config(noreplace) /etc/meshsnap/meshsnap.conf"
    "%exclude /usr/share/lintian/overrides/meshsnap")
# System directories belong to filesystem/systemd/man-db, not to us.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/sbin /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d
    /usr/share/man /usr/share/man/man1 /usr/share/man/man8
    /usr/share/lintian /usr/share/lintian/overrides)
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${MSN_PKG_SRC}/rpm/pre.sh)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${MSN_PKG_SRC}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${MSN_PKG_SRC}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${MSN_PKG_SRC}/rpm/postun.sh)

include(CPack)

# --- tests (each skips with status 77 when it cannot run; see tests/packaging/README.md)
#   packaging.build_check     cpack + content/man/unit/lintian/rpmlint checks; needs rpm,
#                             lintian, rpmlint (skips without them, fails without them
#                             under MESHSNAP_PACKAGE_TEST=1)
#   packaging.install_check   dpkg -i / run / upgrade / remove / purge on this machine:
#                             only with MESHSNAP_PACKAGE_TEST=1, as root
#   packaging.syscall_filter  the daemon's system calls (strace) against the unit's
#                             SystemCallFilter; root and strace
if(MESHSNAP_TESTS)
  set(_msn_pkg_env "MESHSNAP_BUILD_DIR=${CMAKE_BINARY_DIR};MESHSNAP_SOURCE=${CMAKE_SOURCE_DIR}")
  if(MESHSNAP_SANITIZE)
    list(APPEND _msn_pkg_env "MESHSNAP_SANITIZE=1")
  endif()
  add_test(NAME packaging.build_check
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/packaging/build_check.sh)
  add_test(NAME packaging.install_check
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/packaging/install_check.sh)
  # Both run cpack in this build tree (its preinstall step runs the build): one at a time.
  set_tests_properties(packaging.build_check packaging.install_check PROPERTIES
    TIMEOUT 600 SKIP_RETURN_CODE 77 RESOURCE_LOCK meshsnap_cpack ENVIRONMENT "${_msn_pkg_env}")
  add_test(NAME packaging.syscall_filter
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/packaging/syscall_check.sh $<TARGET_FILE:meshsnapd>
                   ${MSN_PKG_SRC}/meshsnap.service)
  set_tests_properties(packaging.syscall_filter PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
    ENVIRONMENT "${_msn_pkg_env};MESHSNAP_SHARED=${MESHSNAP_SHARED_DIR}")
endif()
