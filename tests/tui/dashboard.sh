#!/usr/bin/env bash
# Drives the dashboard in tmux as a user would: opens it, creates a task through the new-task
# form, waits for the downloads pane, cancels the footage stage, retries it, and waits for
# the task to finish. Every wait polls `tmux capture-pane` until a pattern shows (no fixed
# sleeps). Run by tests/tui_tmux.rs, which starts the LLM and Pexels-shaped servers on
# 127.0.0.1 and sets DASHBOARD_BIN, DASHBOARD_DATA and the provider variables.
set -euo pipefail
: "${DASHBOARD_BIN:?path of the reelforge binary}"
: "${DASHBOARD_DATA:?data folder for the run}"

SOCKET="reelforge-tui-test-$$"
tm() { tmux -L "$SOCKET" "$@"; }
cleanup() { tm kill-server 2>/dev/null || true; }
trap cleanup EXIT

screen() { tm capture-pane -p -t main; }

# wait_for TIMEOUT_SECONDS WHAT EXTENDED-REGEX: gives up at the deadline, or at once when the
# dashboard has exited without the pattern showing.
wait_for() {
  local timeout=$1 what=$2 pattern=$3
  local deadline=$((SECONDS + timeout)) shown
  while true; do
    shown=$(screen)
    if grep -Eq -- "$pattern" <<<"$shown"; then
      echo "dashboard test: saw ${what}"
      return 0
    fi
    if ((SECONDS >= deadline)) || grep -q 'dashboard exited:' <<<"$shown"; then
      echo "dashboard test: gave up (${timeout}s, or the dashboard exited) waiting for ${what} (/${pattern}/); the screen:" >&2
      echo "$shown" >&2
      exit 1
    fi
    sleep 0.1
  done
}

# The pane stays open after the dashboard exits so a failure's message can be read.
tm new-session -d -s main -x 120 -y 40 \
  "env TERM=xterm-256color '$DASHBOARD_BIN' --data-dir '$DASHBOARD_DATA'; echo \"dashboard exited: \$?\"; sleep 600"
wait_for 60 "the dashboard" '\? help'

tm send-keys -t main n
wait_for 10 "the new-task form" 'Subject'
tm send-keys -t main -l "Old forests"
tm send-keys -t main Enter
wait_for 60 "a clip downloading" '(↓|downloading).*MB'

# Pipeline pane, then down from script to footage (script, terms, voice, subtitles, footage).
tm send-keys -t main Tab j j j j
wait_for 10 "the footage stage selected" '▸ . footage'
tm send-keys -t main c
wait_for 30 "the footage stage cancelled" 'footage +(◆ )?cancelled'

tm send-keys -t main r
wait_for 30 "the footage stage running again" 'footage +(◆ )?(queued|running|done)'
wait_for 240 "the task done" '✔ Old forests'
screen

tm send-keys -t main q
wait_for 30 "the dashboard quit" 'dashboard exited: 0'
video=$(find "$DASHBOARD_DATA/tasks" -name 'final*.mp4' | head -n 1)
if [[ -z "$video" ]]; then
  echo "dashboard test: the task finished but no final.mp4 is in $DASHBOARD_DATA/tasks" >&2
  exit 1
fi
echo "dashboard test: video $video"
