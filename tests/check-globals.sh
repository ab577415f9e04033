#!/bin/sh
# No mutable global state (vfiomig.h): the library has no object of its own
# in a section written at run time (.data, .bss and their thread-local
# kind), whether global or static, at file scope or in a function.  Tables
# the linker relocates live in .data.rel.ro, read-only once loaded.  Three
# objects allowed come from the toolchain's crtbeginS.o, not from us; the
# fourth, thread_slots, is the one process-wide object vfiomig.h names:
# lib/core/call.c's thread-local key, made once, under which each thread keeps
# its own error slots.
set -eu
lib=$1

found=$(objdump -t "$lib" | awk '$0 ~ / O / && $4 ~ /^\.(data|bss|tdata|tbss)$/ { print $NF }' |
	grep -vxE 'completed\.[0-9]+|__dso_handle|__TMC_END__|thread_slots' || true)
if [ -n "$found" ]; then
	echo "1..1"
	echo "not ok 1 - mutable global or static objects in $lib:"
	echo "$found" | sed 's/^/# /'
	exit 1
fi
echo "1..1"
echo "ok 1 - no mutable global or static object"
