# The dashboard as served: ${CMAKE_BINARY_DIR}/ui, written by ui/build.py from the sources
# in ui/ and the libraries `npm ci` installed in ui/node_modules (from ui/package-lock.json;
# `make build` runs it). Fingerprinted names and .gz copies; see ui/build.py. The packages
# install this directory as /usr/share/meshsnap/ui; `make run` serves it.
find_program(MSN_UI_PYTHON NAMES python3)
if(NOT MSN_UI_PYTHON)
  message(FATAL_ERROR "python3 is required to write the dashboard (apt-get install python3)")
endif()
set(MSN_UI_OUT ${CMAKE_BINARY_DIR}/ui)
file(GLOB MSN_UI_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/ui/*.js ${CMAKE_SOURCE_DIR}/ui/*.css ${CMAKE_SOURCE_DIR}/ui/*.html)
set(MSN_UI_DEPS ${MSN_UI_SOURCES} ${CMAKE_SOURCE_DIR}/ui/build.py)
if(EXISTS ${CMAKE_SOURCE_DIR}/ui/node_modules/.package-lock.json)
  list(APPEND MSN_UI_DEPS ${CMAKE_SOURCE_DIR}/ui/node_modules/.package-lock.json)
else()
  message(STATUS "ui/node_modules is missing (npm ci in ui/): the dashboard is built without uPlot and Leaflet")
endif()
add_custom_command(OUTPUT ${MSN_UI_OUT}/index.html
  COMMAND ${MSN_UI_PYTHON} ${CMAKE_SOURCE_DIR}/ui/build.py --src ${CMAKE_SOURCE_DIR}/ui --out ${MSN_UI_OUT}
  DEPENDS ${MSN_UI_DEPS}
  COMMENT "Writing the dashboard into ${MSN_UI_OUT}"
  VERBATIM)
add_custom_target(msn_ui ALL DEPENDS ${MSN_UI_OUT}/index.html)
