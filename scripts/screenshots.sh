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

# A small newspaper's website on loopback, for "Add a feed": a home page that announces two
# feeds (Tidings offers the choice), and the feeds, dated from now.
site="$work/site"
mkdir -p "$site"
python3 - "$site" <<'PY'
import datetime, sys
site = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
open(f"{site}/index.html", "w").write(
    '<!DOCTYPE html><html><head><title>Harbour Gazette</title>'
    '<link rel="alternate" type="application/rss+xml" title="Harbour Gazette: top stories" href="/top.xml">'
    '<link rel="alternate" type="application/rss+xml" title="Harbour Gazette: sport" href="/sport.xml">'
    '</head><body>Harbour Gazette</body></html>')
def feed(name, title, stories):
    items = ''.join(
        f'<item><title>{t}</title><guid>{name}-{n}</guid><link>https://harbour.example/{name}/{n}</link>'
        f'<pubDate>{(now - datetime.timedelta(minutes=19 * n + 4)).strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>'
        f'<description>{t}. More in the Gazette.</description></item>'
        for n, t in enumerate(stories))
    open(f"{site}/{name}.xml", "w").write(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f'<link>https://harbour.example/</link>{items}</channel></rss>')
feed("top", "Harbour Gazette", ["Ferry timetable changes for the winter season",
     "New lighthouse keeper starts on Monday", "Fish market reopens after renovation",
     "Council approves the harbour wall repairs", "Storm damage: what the insurers say",
     "School choir wins the regional prize"])
feed("sport", "Harbour Gazette Sport", ["Regatta postponed by a week", "Rowing club names a new captain"])
PY
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$site" >"$work/site.log" 2>&1 &
sleep 1
site_url="http://$(grep -o '127.0.0.1 port [0-9]*' "$work/site.log" | awk '{print $1 ":" $3}')"

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
  click 100 516            # Weather (channel 9 in the column, below Saved)
  shot "weather-$theme"
  click 100 556            # Alerts
  click 480 230            # the warning
  shot "alerts-$theme"
  xdotool key 2; sleep 0.5  # back to World
  click 1233 41            # Settings
  shot "settings-$theme"
  click 668 118            # the Notifications page
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
  xdotool key Escape; sleep 1
  click 40 41 1.5          # the title again: the keyboard back to the main window
  xdotool key ctrl+n; sleep 2        # Add a feed: the website's address, then its first feed
  xdotool type --delay 40 "$site_url"; xdotool key Return; sleep 3
  xdotool key Return; sleep 3        # the first feed the page announces, previewed
  shot "add-feed-$theme"
  kill "$app"; wait "$app" 2>/dev/null || true
done

# The first-run welcome: no settings file yet (so the default theme), the demo's places.
home="$work/welcome"
mkdir -p "$home/config/tidings" "$home/data/tidings" "$home/runtime"
chmod 700 "$home/runtime"
printf 'window = [0.0, 0.0, 1280.0, 745.0]\nchannel = "world"\n' >"$home/data/tidings/window.toml"
xdotool mousemove 1279 400
env HOME="$home" XDG_CONFIG_HOME="$home/config" XDG_DATA_HOME="$home/data" \
  XDG_CACHE_HOME="$home/cache" XDG_RUNTIME_DIR="$home/runtime" RUST_LOG=error \
  "$binary" --demo >/dev/null 2>&1 &
app=$!
sleep 12
shot "welcome-dark"
kill "$app"; wait "$app" 2>/dev/null || true

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
