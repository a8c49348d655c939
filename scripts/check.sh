#!/usr/bin/env bash
# Static checks: formatting, lints, docs, and the feature matrix (a headless server build must
# not pull in any GUI crate). Run by scripts/test.sh; handy on its own before a commit.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features)"
cargo clippy --all-targets --all-features --locked -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --locked --quiet

step "headless server build has no GUI crate"
cargo build --no-default-features --features server --bin tidings-server --locked --quiet
cargo build --no-default-features --features server,redis --bin tidings-server --locked --quiet
gui_crates=$(cargo tree --no-default-features --features server,redis -e normal --prefix none --locked \
  | grep -E '^(eframe|egui|egui-winit|egui_glow|winit|glow|glutin|accesskit) ' || true)
if [[ -n "$gui_crates" ]]; then
  echo "a GUI crate is in the server-only dependency tree:" >&2
  echo "$gui_crates" >&2
  exit 1
fi
echo "ok: no GUI crate in the server-only tree"
