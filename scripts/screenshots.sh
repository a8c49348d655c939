#!/usr/bin/env bash
# Takes the README's screenshots: every view of the desktop app in every theme (the search
# results and the Saved view too), in demo mode, under Xvfb (1280x800) with openbox, into
# docs/screenshots/.
#
#   scripts/screenshots.sh [target/release/tidings]
#
# Needs: xvfb openbox imagemagick xdotool dbus dunst (apt). Nothing here reaches the internet.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:-${CARGO_TARGET_DIR:-target}/release/tidings}"
out="docs/screenshots"
mkdir -p "$out"
display=":177"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp -noreset >/dev/null 2>&1 &
sleep 1
DISPLAY="$display" openbox >/dev/null 2>&1 &
sleep 1
export DISPLAY="$display" LIBGL_ALWAYS_SOFTWARE=1
# A session bus of its own with dunst, as on a desktop (the app's notifications go there).
dbus-daemon --session --address="unix:path=$work/bus" --nofork --nopidfile >/dev/null 2>&1 &
sleep 0.5
export DBUS_SESSION_BUS_ADDRESS="unix:path=$work/bus"
dunst >/dev/null 2>&1 &

click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-0.8}"; }
shot() { xdotool mousemove 1279 400; sleep 0.4; still "$1"; }
# Without moving the pointer (moving it ends the SmartScreen).
still() { import -window root "$out/$1.png"; echo "  $out/$1.png"; }

for theme in dark light classic; do
  home="$work/$theme"
  mkdir -p "$home/config/tidings" "$home/data/tidings" "$home/runtime"
  chmod 700 "$home/runtime"
  printf 'theme = "%s"\n[ticker]\nenabled = true\nposition = "bottom"\n' "$theme" \
    >"$home/config/tidings/settings.toml"
  # Fill the screen above the ticker (window title bar included).
  printf 'window = [0.0, 0.0, 1280.0, 745.0]\nchannel = "world"\n' >"$home/data/tidings/window.toml"
  env HOME="$home" XDG_CONFIG_HOME="$home/config" XDG_DATA_HOME="$home/data" \
    XDG_CACHE_HOME="$home/cache" XDG_RUNTIME_DIR="$home/runtime" RUST_LOG=error \
    "$binary" --demo >/dev/null 2>&1 &
  app=$!
  sleep 14 # the demo's first stories and the weather arrive
  echo "$theme:"
  click 490 330            # a headline in World
  shot "main-$theme"
  click 100 453            # Weather (channel 9 in the column)
  shot "weather-$theme"
  click 100 493            # Alerts
  click 480 230            # the warning
  shot "alerts-$theme"
  xdotool key 2; sleep 0.5  # back to World
  click 1233 41            # Settings
  shot "settings-$theme"
  click 662 171            # the Notifications page
  shot "notifications-$theme"
  xdotool key Escape; sleep 0.5
  xdotool mousemove 1140 41 click 1; sleep 10  # SmartScreen, on its second card
  still "smartscreen-$theme"
  xdotool key Escape; sleep 1
  click 40 41              # the title, to give the main window the keyboard back
  xdotool key ctrl+f; sleep 0.5      # the search box
  xdotool type --delay 90 "harbour"; sleep 1
  xdotool key Down Return; sleep 1   # open the second result
  shot "search-$theme"
  xdotool key Escape; sleep 0.5
  xdotool key 2; sleep 0.5           # World: save three of its stories
  xdotool key --delay 250 j s j j s j j s; sleep 0.5
  xdotool key --delay 250 0 j; sleep 1  # the Saved view, the newest saved open
  shot "saved-$theme"
  kill "$app"; wait "$app" 2>/dev/null || true
done

# "While you were away": the SmartScreen starts after 20 idle seconds (shortened for the
# screenshot), the demo's stories keep arriving, and moving the mouse brings the summary.
home="$work/away"
mkdir -p "$home/config/tidings" "$home/data/tidings" "$home/runtime"
chmod 700 "$home/runtime"
printf 'theme = "dark"
[ticker]
enabled = true
position = "bottom"
' >"$home/config/tidings/settings.toml"
printf 'window = [0.0, 0.0, 1280.0, 745.0]
channel = "world"
' >"$home/data/tidings/window.toml"
xdotool mousemove 1279 400
env HOME="$home" XDG_CONFIG_HOME="$home/config" XDG_DATA_HOME="$home/data" \
  XDG_CACHE_HOME="$home/cache" XDG_RUNTIME_DIR="$home/runtime" RUST_LOG=error \
  TIDINGS_IDLE_SECONDS=20 "$binary" --demo >/dev/null 2>&1 &
app=$!
sleep 55 # 20 s to the SmartScreen, then half a minute of demo stories
xdotool mousemove 640 300; sleep 1.5
still "away-dark"
kill "$app"; wait "$app" 2>/dev/null || true
