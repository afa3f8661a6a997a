# SPDX-License-Identifier: Apache-2.0
# What embed_migrations.cmake and embed_web.cmake share: a file's bytes as
# a C array initializer, and writing the generated source only when it
# changed (so that nothing recompiles needlessly).

# embed_hex(FILE VAR): "0x..,0x..,...0x00" of FILE's bytes and a NUL, 16
# to a line, into VAR.
function(embed_hex file var)
  file(READ ${file} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REPEAT "0x..," 16 line) # CMake's regex has no {n}
  string(REGEX REPLACE "(${line})" "\\1\n    " hex "${hex}")
  set(${var} "${hex}0x00" PARENT_SCOPE)
endfunction()

# embed_write(OUT TEXT): OUT holds TEXT, rewritten only when different.
function(embed_write out text)
  file(WRITE ${out}.tmp "${text}")
  file(COPY_FILE ${out}.tmp ${out} ONLY_IF_DIFFERENT)
  file(REMOVE ${out}.tmp)
endfunction()
