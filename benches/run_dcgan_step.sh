#!/usr/bin/env bash
# DCGAN 64 px training step: Rust vs PyTorch on this machine (see compare_step.sh).
exec "$(dirname "$0")/compare_step.sh" dcgan_step dcgan64_step "${STEPS:-10}"
