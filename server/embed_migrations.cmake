# SPDX-License-Identifier: Apache-2.0
# Turns migrations/NNNN_name.sql into a C source holding each file's text,
# so that weir-server carries its schema and never looks for it at run time.
#   cmake -DDIR=<migrations folder> -DOUT=<file.c> -P embed_migrations.cmake
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/embed_common.cmake)
file(GLOB files ${DIR}/*.sql)
list(SORT files)

set(body "/* Generated from the migrations folder by embed_migrations.cmake. */\n")
string(APPEND body "#include \"store/migrations.h\"\n\n")
set(table "")
set(seen "")
set(i 0)
foreach(f ${files})
  get_filename_component(name ${f} NAME)
  if(NOT name MATCHES "^([0-9]+)_([A-Za-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "${f}: a migration is named NNNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  set(label ${CMAKE_MATCH_2})
  if(version IN_LIST seen)
    message(FATAL_ERROR "${f}: migration ${version} exists twice")
  endif()
  list(APPEND seen ${version})
  embed_hex(${f} hex)
  string(APPEND body "static const char sql_${i}[] = {\n    ${hex}};\n\n")
  string(APPEND table "    {${version}, \"${label}\", sql_${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()

string(APPEND body "const struct migration migrations[] = {\n${table}")
string(APPEND body "    {0, NULL, NULL},\n};\n\n")
string(APPEND body "const size_t migrations_count = ${i};\n")

embed_write(${OUT} "${body}")
