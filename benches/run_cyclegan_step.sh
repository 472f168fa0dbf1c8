#!/usr/bin/env bash
# CycleGAN 128 px training step: Rust vs PyTorch on this machine (see compare_step.sh).
exec "$(dirname "$0")/compare_step.sh" cyclegan_step cyclegan128_step "${STEPS:-5}"
