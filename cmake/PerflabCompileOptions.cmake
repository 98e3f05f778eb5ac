# Warning flags and sanitizer flags shared by every perflab target.

add_library(perflab_warnings INTERFACE)
target_compile_options(perflab_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  $<$<BOOL:${PERFLAB_WERROR}>:-Werror>)

if(PERFLAB_SANITIZE)
  set(_perflab_san_flags -fsanitize=${PERFLAB_SANITIZE} -fno-omit-frame-pointer -g)
  if(PERFLAB_SANITIZE MATCHES "undefined")
    list(APPEND _perflab_san_flags -fno-sanitize-recover=all)
  endif()
  add_compile_options(${_perflab_san_flags})
  add_link_options(-fsanitize=${PERFLAB_SANITIZE})
endif()

# perflab_component(NAME SOURCES ... [DEPS ...]): a library target perflab_NAME with
# the alias perflab::NAME, exported as NAME, public headers from include/.
function(perflab_component name)
  cmake_parse_arguments(ARG "SHARED" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_SHARED)
    add_library(perflab_${name} SHARED ${ARG_SOURCES})
  else()
    add_library(perflab_${name} STATIC ${ARG_SOURCES})
    set_target_properties(perflab_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
  add_library(perflab::${name} ALIAS perflab_${name})
  set_target_properties(perflab_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME perflab_${name})
  target_link_libraries(perflab_${name} PUBLIC perflab::headers ${ARG_DEPS}
                        PRIVATE perflab_warnings ${ARG_PRIVATE_DEPS})
  set_property(GLOBAL APPEND PROPERTY PERFLAB_EXPORTED_TARGETS perflab_${name})
endfunction()
