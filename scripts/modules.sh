#!/usr/bin/env bash
# Prints every module directory of go.work, one per line.
cd "$(dirname "$0")/.." && sed -n 's#^[[:space:]]*\./\([^[:space:]]*\)$#\1#p' go.work
