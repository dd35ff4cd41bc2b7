# layering.cmake: the process roles stay apart (run by CTest as layering.includes).
#
#   cmake -DSRC=<source dir> [-DLINKS_<target>=<libs joined by |> ...] -P layering.cmake
#
# Fails when a file of one role (master/, worker/, backfiller/, ingestor/) includes a header of
# another role, when shm/ or cli/ includes any role's header, or when a target's link
# libraries (passed as LINKS_<target>) name a role library it must not use: the roles
# link only msn_shm, the command-line tool links only msn_shm. Only daemon/ (the entry
# point) knows all three roles.
set(roles master worker backfiller ingestor)
set(bad "")
foreach(folder master worker backfiller ingestor shm cli)
  file(GLOB_RECURSE files "${SRC}/${folder}/*.c" "${SRC}/${folder}/*.h")
  foreach(f ${files})
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](\\.\\./)*(master|worker|backfiller|ingestor)/")
    foreach(line ${lines})
      string(REGEX MATCH "[\"<](\\.\\./)*(master|worker|backfiller|ingestor)/" m "${line}")
      if(NOT CMAKE_MATCH_2 STREQUAL folder)
        file(RELATIVE_PATH rel "${SRC}" "${f}")
        list(APPEND bad "${rel}: ${line}  (${folder}/ must not include ${CMAKE_MATCH_2}/ headers)")
      endif()
    endforeach()
  endforeach()
endforeach()

# Link graph: which role libraries each target may link.
set(allowed_msn_master "")
set(allowed_msn_worker "")
set(allowed_msn_backfiller "")
set(allowed_msn_ingestor "")
set(allowed_meshsnap "")
foreach(target msn_master msn_worker msn_backfiller msn_ingestor meshsnap)
  if(NOT DEFINED LINKS_${target})
    continue()
  endif()
  string(REPLACE "|" ";" libs "${LINKS_${target}}")
  foreach(lib ${libs})
    if(lib MATCHES "^msn_(master|worker|backfiller|ingestor)$")
      list(FIND allowed_${target} "${lib}" at)
      if(at LESS 0)
        list(APPEND bad "${target} links ${lib}")
      endif()
    endif()
  endforeach()
endforeach()

if(bad)
  list(JOIN bad "\n  " msg)
  message(FATAL_ERROR "layering violations:\n  ${msg}")
endif()
message(STATUS "layering: no role includes or links another role")
