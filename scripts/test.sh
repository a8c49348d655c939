#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs the system tools the tests use
# (with apt, only when missing), runs the static checks, then every test.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --no-check # tests only
#
# Build products go to $CARGO_TARGET_DIR (default: ~/.cache/tidings/target, outside the clone,
# so repeated runs are incremental).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
run_checks=1
[[ "${1:-}" == "--no-check" ]] && run_checks=0

# Debian packages the tests drive for real: a browser for the web page test, nginx with the
# nchan module as an SSE server we did not write, an X server with Mesa's software OpenGL and a
# window manager for the desktop app's end-to-end tests, xdotool for input, a private D-Bus
# session with the dunst notification daemon, python3-dbus for a stand-in tray panel, and
# redis-server (with redis-cli) for the shared event log of several nodes.
packages=(chromium nginx-light libnginx-mod-nchan redis-server redis-tools xvfb libgl1-mesa-dri libglx-mesa0 libegl1
  libxkbcommon-x11-0 openbox xdotool dbus dunst python3 python3-dbus python3-gi)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "==> installing test tools: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A cold test build needs about 4 GB; say so plainly instead of failing deep inside rustc.
mkdir -p "$CARGO_TARGET_DIR"
free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')
if [[ -n "$free_kb" ]] && ((free_kb < 5 * 1024 * 1024)); then
  echo "warning: only $((free_kb / 1024)) MiB free for $CARGO_TARGET_DIR; a cold build needs about 4 GiB" >&2
fi

if ((run_checks)); then
  scripts/check.sh
fi

printf '\n==> cargo test (all features)\n'
cargo test --all-features --locked --no-fail-fast
