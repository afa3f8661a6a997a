# SPDX-License-Identifier: Apache-2.0
# Turns the files of web/ (the dashboard) into a C source holding each
# file's bytes and an ETag (part of its SHA-256), so that weir-server serves
# the dashboard without looking for it at run time.
#   cmake -DDIR=<web folder> -DOUT=<file.c> -P embed_web.cmake
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/embed_common.cmake)
file(GLOB files ${DIR}/*)
list(SORT files)

set(body "/* Generated from web/ by embed_web.cmake. */\n")
string(APPEND body "#include \"api/web_files.h\"\n\n")
set(table "")
set(i 0)
foreach(f ${files})
  if(IS_DIRECTORY ${f})
    continue()
  endif()
  get_filename_component(name ${f} NAME)
  if(NOT name MATCHES "^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
    message(FATAL_ERROR "${f}: a web file is named with letters, digits, . _ -")
  endif()
  file(SHA256 ${f} sum)
  string(SUBSTRING ${sum} 0 32 etag)
  file(SIZE ${f} size)
  embed_hex(${f} hex)
  string(APPEND body "static const unsigned char file_${i}[] = {\n    ${hex}};\n\n")
  string(APPEND table "    {\"${name}\", file_${i}, ${size}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()

string(APPEND body "const struct web_file web_files[] = {\n${table}")
string(APPEND body "    {NULL, NULL, 0, NULL},\n};\n\n")
string(APPEND body "const size_t web_files_count = ${i};\n")

embed_write(${OUT} "${body}")
