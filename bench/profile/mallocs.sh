#!/bin/bash
# usage: mallocs.sh CALLGRIND_FILE MSGS: calls to malloc (and realloc, calloc) per message
for fn in malloc realloc calloc; do
callgrind_annotate --tree=caller "$1" 2>/dev/null | awk -v fn="$fn" -v m="$2" '
  /^$/ { if (hit) { printf "%s/msg=%.1f ", fn, sum/m }; blk=""; sum=0; hit=0; next }
  /</ { if (match($0, /\(([0-9,]+)x\)/)) { v=substr($0, RSTART+1, RLENGTH-3); gsub(",","",v); sum+=v } }
  $0 ~ ("\\*  .*malloc.c:" fn " \\[") { hit=1 }
'
done; echo
