#!/usr/bin/env bash
# Python packages the tests use: HdrHistogram_py, the independent decoder that checks
# evbench's lossless histograms (bench-cli/tests/results.rs).
set -euo pipefail
python3 -c 'import hdrh.histogram' 2>/dev/null || python3 -m pip install --quiet hdrhistogram
